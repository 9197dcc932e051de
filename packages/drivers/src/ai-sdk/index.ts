// @warden/drivers/ai-sdk: Vercel AI SDK tools guarded by Warden (see packages/drivers/docs/agents.md).
export { type AiToolDescriber, type GuardToolsOptions, guardTools } from './guard-tools.js'
