// @warden/drivers/langchain: LangChain tools guarded by Warden (see packages/drivers/docs/agents.md).
export { guardTools, guardLangChainTool, type GuardLangChainToolsOptions } from './guard-tools.js'
