// Announces an approval request to a webhook (Slack-compatible `text`, plus the request as JSON),
// then waits for the decision through a shared store that the reviewer's side writes to.
import { WardenError, WardenTypeError } from '@warden/policy'
import { isSecret, revealSecret, type Secret } from '../secret.js'
import type { ApprovalOutcome, ApprovalRequest, Approver } from './approver.js'
import type { ApprovalStore } from './internal/approval-store.js'
import { slackText } from './internal/describe-request.js'

export interface WebhookApproverOptions {
  /** Where to POST, e.g. a Slack incoming webhook or your own service. */
  readonly url: string | URL
  /** Where decisions arrive: `redisApprovals(...)` (shared by instances and the inbox), or `memoryApprovals()` in tests. */
  readonly store: ApprovalStore
  /** Extra request headers; Secret values are sent but never printed. */
  readonly headers?: Readonly<Record<string, string | Secret>>
  /** Link to the approvals inbox, added to the message. */
  readonly reviewUrl?: string
  /** Bound on the POST. Default 5000 ms. */
  readonly timeoutMs?: number
  /** Test seam. Default the global fetch. */
  readonly fetch?: typeof globalThis.fetch
}

/** The JSON body sent: Slack reads `text`; other receivers read `approval`. */
export interface WebhookPayload {
  readonly text: string
  readonly approval: {
    readonly id: string
    readonly fingerprint: string
    readonly principal: { readonly id: string; readonly type: string; readonly groups: readonly string[] }
    readonly resource: { readonly kind: string; readonly name: string }
    readonly action: string
    readonly command: string
    /** Bound values as the approver is shown them (detector-masked, cut). */
    readonly parameters?: readonly (string | null)[]
    readonly rule: string
    readonly reason: string
    readonly approvers: readonly string[]
    readonly requestedAt: string
    readonly expiresAt: string
    readonly preview?: { readonly summary: string; readonly rowsAffected?: readonly number[] }
  }
}

export function webhookPayload(r: ApprovalRequest, reviewUrl?: string): WebhookPayload {
  return {
    text: slackText(r, reviewUrl),
    approval: {
      id: r.id,
      fingerprint: r.fingerprint,
      principal: { id: r.principal.id, type: r.principal.type, groups: [...r.principal.groups] },
      resource: { kind: r.resource.kind, name: r.resource.name },
      action: r.action,
      command: r.command,
      ...(r.parameters !== undefined ? { parameters: r.parameters } : {}),
      rule: r.rule,
      reason: r.reason,
      approvers: [...r.approvers],
      requestedAt: r.requestedAt.toISOString(),
      expiresAt: r.expiresAt.toISOString(),
      ...(r.preview ? { preview: { summary: r.preview.summary, rowsAffected: r.preview.rowsAffected } } : {}),
    },
  }
}

export function webhookApprover(options: WebhookApproverOptions): Approver {
  if (typeof options !== 'object' || options === null)
    throw new WardenTypeError('webhookApprover: options are required')
  const url = new URL(options.url) // throws now, not at the first approval
  if (url.protocol !== 'https:' && url.protocol !== 'http:')
    throw new WardenTypeError('webhookApprover: "url" must be http(s)')
  const { store } = options
  if (typeof store?.open !== 'function' || typeof store.wait !== 'function') {
    throw new WardenTypeError(
      'webhookApprover: "store" must be an approval store (redisApprovals or memoryApprovals)',
    )
  }
  const timeoutMs = options.timeoutMs ?? 5000
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
    throw new WardenTypeError('webhookApprover: "timeoutMs" must be a positive integer')
  const headers = { ...(options.headers ?? {}) }
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v !== 'string' && !isSecret(v))
      throw new WardenTypeError(`webhookApprover: header "${k}" must be a string or a Secret`)
  }
  const fetchImpl = options.fetch ?? globalThis.fetch

  async function post(request: ApprovalRequest, signal: AbortSignal): Promise<string | undefined> {
    const sent: Record<string, string> = { 'content-type': 'application/json' }
    for (const [k, v] of Object.entries(headers)) sent[k] = isSecret(v) ? revealSecret(v) : v
    try {
      const res = await fetchImpl(url, {
        method: 'POST',
        headers: sent,
        body: JSON.stringify(webhookPayload(request, options.reviewUrl)),
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
        redirect: 'error',
      })
      await res.body?.cancel()
      return res.ok ? undefined : `the webhook answered HTTP ${res.status}`
    } catch (error) {
      // Say what failed, not the library's message (it can echo the URL, which may hold a token).
      return `the webhook POST failed (${(error as Error).name === 'TimeoutError' ? 'timeout' : 'network error'})`
    }
  }

  return {
    async request(request, signal): Promise<ApprovalOutcome> {
      await store.open(request)
      const failed = await post(request, signal)
      if (failed !== undefined) {
        // Nobody was told, so nobody will decide: withdraw and refuse now rather than at the timeout.
        await store.withdraw(request.id).catch((error) => {
          throw error instanceof WardenError
            ? error
            : new WardenError(
                'ERR_WARDEN_APPROVAL_STORE',
                'webhookApprover: could not withdraw the request',
                { cause: error },
              )
        })
        if (signal.aborted)
          return {
            status: 'expired',
            reason: 'the approval wait was cancelled (timeout or abort)',
            fingerprint: request.fingerprint,
            id: request.id,
          }
        return {
          status: 'rejected',
          reason: `webhookApprover: ${failed}`,
          fingerprint: request.fingerprint,
          id: request.id,
        }
      }
      return store.wait(request, signal)
    },
  }
}
