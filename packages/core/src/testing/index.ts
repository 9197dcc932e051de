// @warden/core/testing: in-memory stand-ins so an application's tests run with Warden in the loop.

export { autoApprove, type RecordingApprover } from '../approval/auto-approve.js'
export { autoDeny } from '../approval/auto-deny.js'
export { type MemoryApprovalsOptions, memoryApprovals } from '../approval/memory-approvals.js'
export { type MemorySink, memorySink, type RecordMatch } from '../audit/memory-sink.js'
export { type ManualClock, manualClock } from './manual-clock.js'
export { type StubBroker, type StubBrokerOptions, stubBroker } from './stub-broker.js'
export { type TestIdentity, type TestTokenClaims, testIdentity } from './test-identity.js'
