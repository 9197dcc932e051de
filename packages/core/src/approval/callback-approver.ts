import { WardenTypeError } from '@warden/policy'
import type { ApprovalOutcome, ApprovalRequest, Approver } from './approver.js'

/** What the callback returns: a full outcome, or just `true` (approve) / `false` (reject). */
export type ApprovalCallback = (
  request: ApprovalRequest,
  signal: AbortSignal,
) => Promise<ApprovalOutcome | boolean> | ApprovalOutcome | boolean

/**
 * An approver from a function (e.g. your own chat-ops integration). The outcome is bound to the
 * request's fingerprint unless the callback names another one (which core then refuses).
 * @example
 * const approvals = callbackApprover(async (req) => req.principal.groups.includes('oncall'))
 */
export function callbackApprover(fn: ApprovalCallback): Approver {
  if (typeof fn !== 'function') throw new WardenTypeError('callbackApprover: a function is required')
  return {
    async request(request, signal) {
      const result = await fn(request, signal)
      if (result === true)
        return { status: 'approved', by: 'callback', fingerprint: request.fingerprint, id: request.id }
      if (result === false || result === null || typeof result !== 'object') {
        return { status: 'rejected', by: 'callback', fingerprint: request.fingerprint, id: request.id }
      }
      return { fingerprint: request.fingerprint, id: request.id, ...result }
    },
  }
}
