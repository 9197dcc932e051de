// @warden/drivers/langchain: LangChain tools and v1 agents guarded by Warden (see packages/drivers/docs/agents.md).
export { type GuardLangChainToolsOptions, guardLangChainTool, guardTools } from './guard-tools.js'
export {
  type WardenApprovalInterrupt,
  type WardenApprovalResume,
  type WardenMiddlewareOptions,
  wardenMiddleware,
} from './warden-middleware.js'
