// @warden/drivers/langchain: LangChain tools guarded by Warden (see packages/drivers/docs/agents.md).
export { type GuardLangChainToolsOptions, guardLangChainTool, guardTools } from './guard-tools.js'
