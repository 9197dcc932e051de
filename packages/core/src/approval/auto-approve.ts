import type { ApprovalOutcome, ApprovalRequest, Approver } from './approver.js'

export interface RecordingApprover extends Approver {
  /** Every request received, in order (for test assertions). */
  readonly requests: readonly ApprovalRequest[]
}

/** Approves every request at once, bound to its fingerprint. For tests and local development only. */
export function autoApprove(options: { readonly by?: string } = {}): RecordingApprover {
  const requests: ApprovalRequest[] = []
  const by = options.by ?? 'auto-approve'
  return {
    requests,
    async request(request: ApprovalRequest): Promise<ApprovalOutcome> {
      requests.push(request)
      return { status: 'approved', by, fingerprint: request.fingerprint, id: request.id }
    },
  }
}
