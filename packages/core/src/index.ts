export {
  type AnyWardenError,
  WardenApprovalError,
  WardenDeniedError,
  WardenError,
  type WardenErrorCode,
  WardenTypeError,
} from '@warden/policy'
export type * from './approval/approver.js'
// approvers
export { autoApprove, type RecordingApprover } from './approval/auto-approve.js'
export { autoDeny } from './approval/auto-deny.js'
export { type ApprovalCallback, callbackApprover } from './approval/callback-approver.js'
export { type ConsoleApproverOptions, consoleApprover } from './approval/console-approver.js'
export {
  type ApproverRefusal,
  approverRefusal,
  describeApprovers,
  foldName,
} from './approval/internal/approver-rules.js'
export {
  ApprovalDecisionError,
  type ApprovalDecisionInput,
  type ApprovalEvent,
  type ApprovalRecord,
  type ApprovalStatus,
  type ApprovalStore,
  type DecisionKeys,
  type DecisionRefusal,
  type RedisApprovalsOptions,
  redisApprovals,
} from './approval/redis-approvals.js'
export {
  type WebhookApproverOptions,
  type WebhookPayload,
  webhookApprover,
  webhookPayload,
} from './approval/webhook-approver.js'
export type * from './audit/audit-record.js'
export type * from './audit/audit-sink.js'
export {
  type Checkpoint,
  type CheckpointReason,
  checkpointKeyId,
  checkpointPrivateKey,
  checkpointPublicKey,
  checkpointSignatureValid,
  generateCheckpointKeys,
  type KeyInput,
  signCheckpoint,
} from './audit/checkpoint.js'
export { fileCheckpoints, pinoCheckpoints, readCheckpoints } from './audit/checkpoint-stores.js'
export {
  type Checkpointer,
  type CheckpointerOptions,
  type CheckpointStore,
  createCheckpointer,
} from './audit/checkpointer.js'
// audit
export { type JsonlSink, type JsonlSinkOptions, jsonlSink } from './audit/jsonl-sink.js'
export { type MemorySink, memorySink, type RecordMatch } from './audit/memory-sink.js'
export { type PinoSinkOptions, pinoSink } from './audit/pino-sink.js'
export { joinOutcomes, readAudit } from './audit/read-audit.js'
export { OCSF_VERSION, type OcsfEvent, type OcsfOptions, toOcsf } from './audit/to-ocsf.js'
export {
  auditChainId,
  type ChainHead,
  type ChainProblem,
  type ChainVerification,
  type CheckpointSummary,
  type VerifyChainOptions,
  verifyChain,
} from './audit/verify-chain.js'
export type * from './broker/broker.js'
export { type HttpBrokerOptions, httpBroker } from './broker/http-broker.js'
export type { LeaseCacheOptions } from './broker/lease-cache.js'
// brokers
export {
  type SecretSource,
  type StaticBrokerOptions,
  type StaticCredential,
  staticBroker,
} from './broker/static-broker.js'
export { type Clock, systemClock } from './clock.js'
// flow (data-flow rules across one causal chain)
export { currentFlow } from './flow/current-flow.js'
// agent tools
export {
  type GuardedTool,
  type GuardToolOptions,
  guardTool,
  isToolRefusal,
  type ToolDescription,
  type ToolRefusal,
  type ToolRefusalCode,
} from './guard-tool.js'
export type { Identity } from './identity/identity.js'
export { type JwtIdentityOptions, jwtIdentity } from './identity/jwt-identity.js'
export { auditSegments } from './internal/log-segments.js'
export { detokenize } from './masking/detokenize.js'
export type * from './masking/mask-plan.js'
export {
  type CommandMasker,
  createMaskingEngine,
  type MaskingEngine,
  type MaskingOptions,
  type MaskReportEntry,
} from './masking/masking-engine.js'
export { isSecret, revealSecret, Secret } from './secret.js'
export type * from './session.js'
// warden, sessions, identity
export {
  createWarden,
  type PrincipalInput,
  type SessionInput,
  type Warden,
  type WardenOptions,
} from './warden.js'
