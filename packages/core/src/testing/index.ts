// @warden/core/testing: in-memory stand-ins so an application's tests run with Warden in the loop.
export { stubBroker, type StubBroker, type StubBrokerOptions } from './stub-broker.js'
export { memorySink, type MemorySink, type RecordMatch } from '../audit/memory-sink.js'
export { autoApprove, type RecordingApprover } from '../approval/auto-approve.js'
export { autoDeny } from '../approval/auto-deny.js'
export { memoryApprovals, type MemoryApprovalsOptions } from '../approval/internal/memory-approvals.js'
export { testIdentity, type TestIdentity, type TestTokenClaims } from './test-identity.js'
