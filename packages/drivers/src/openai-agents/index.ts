// @warden/drivers/openai-agents: OpenAI Agents SDK tools guarded by Warden (see packages/drivers/docs/agents.md).
export { type GuardAgentToolsOptions, guardAgentTools } from './guard-agent-tools.js'
