export { WardenError, WardenDeniedError, type WardenErrorCode } from '@warden/policy'
export { Secret, revealSecret, isSecret } from './secret.js'
export type * from './broker/broker.js'
export type * from './approval/approver.js'
export type * from './audit/audit-record.js'
export type * from './audit/audit-sink.js'
export type * from './masking/mask-plan.js'
export type * from './session.js'
export { createMaskingEngine, type MaskingOptions, type MaskingEngine, type CommandMasker, type MaskReportEntry } from './masking/masking-engine.js'
export { detokenize } from './masking/detokenize.js'

// warden, sessions, identity
export { createWarden, type Warden, type WardenOptions, type SessionInput, type PrincipalInput } from './warden.js'
export type { Identity } from './identity/identity.js'
export { jwtIdentity, type JwtIdentityOptions } from './identity/jwt-identity.js'

// brokers
export { staticBroker, type StaticBrokerOptions, type StaticCredential, type SecretSource } from './broker/static-broker.js'
export { httpBroker, type HttpBrokerOptions } from './broker/http-broker.js'
export type { LeaseCacheOptions } from './broker/lease-cache.js'

// approvers
export { autoApprove, type RecordingApprover } from './approval/auto-approve.js'
export { autoDeny } from './approval/auto-deny.js'
export { callbackApprover, type ApprovalCallback } from './approval/callback-approver.js'

// audit
export { jsonlSink, type JsonlSink, type JsonlSinkOptions } from './audit/jsonl-sink.js'
export { pinoSink, type PinoSinkOptions } from './audit/pino-sink.js'
export { memorySink, type MemorySink, type RecordMatch } from './audit/memory-sink.js'
export { verifyChain, type ChainVerification } from './audit/verify-chain.js'
export { toOcsf, type OcsfEvent } from './audit/to-ocsf.js'
export { consoleApprover, type ConsoleApproverOptions } from './approval/console-approver.js'
export { webhookApprover, webhookPayload, type WebhookApproverOptions, type WebhookPayload } from './approval/webhook-approver.js'
export {
  redisApprovals,
  ApprovalDecisionError,
  type RedisApprovalsOptions,
  type ApprovalStore,
  type ApprovalRecord,
  type ApprovalStatus,
  type ApprovalEvent,
  type ApprovalDecisionInput,
  type DecisionRefusal,
} from './approval/redis-approvals.js'

// flow (data-flow rules across one causal chain)
export { currentFlow } from './flow/current-flow.js'

// agent tools
export { guardTool, isToolRefusal, type GuardToolOptions, type GuardedTool, type ToolDescription, type ToolRefusal, type ToolRefusalCode } from './guard-tool.js'
