// @warden/drivers/ai-sdk: Vercel AI SDK (6 and 7) tools guarded by Warden (see packages/drivers/docs/agents.md).
export {
  type AiToolDescriber,
  type GuardToolsOptions,
  guardTools,
  type ToolCallOptions,
} from './guard-tools.js'
export { type ToolApprovalCall, toolApproval, type WardenToolApprovalStatus } from './tool-approval.js'
