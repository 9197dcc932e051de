// @warden/drivers/ai-sdk: Vercel AI SDK tools guarded by Warden (see packages/drivers/docs/agents.md).
export { guardTools, type GuardToolsOptions, type AiToolDescriber } from './guard-tools.js'
