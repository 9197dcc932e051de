import type { ApprovalOutcome, ApprovalRequest } from './approver.js'
import type { RecordingApprover } from './auto-approve.js'

/** Rejects every request at once. For tests. */
export function autoDeny(
  options: { readonly by?: string; readonly reason?: string } = {},
): RecordingApprover {
  const requests: ApprovalRequest[] = []
  return {
    requests,
    async request(request: ApprovalRequest): Promise<ApprovalOutcome> {
      requests.push(request)
      return {
        status: 'rejected',
        by: options.by ?? 'auto-deny',
        reason: options.reason ?? 'denied automatically',
        fingerprint: request.fingerprint,
        id: request.id,
      }
    },
  }
}
