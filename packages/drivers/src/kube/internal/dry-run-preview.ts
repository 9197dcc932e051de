// The approval preview of a held Kubernetes write (the same request with dryRun=All, summarized:
// names and counts only, never data), and the one place /kube turns a broker credential into a header.
import type { ApprovalPreview, Credential, Lease } from '@warden/core'
import { revealSecret } from '@warden/core'
import { type KubeFacts, WardenError } from '@warden/policy'
import type { Dispatcher } from 'undici'
import { echoNeedles, textScrubber } from '../../internal/credential-echo.js'
import { readCapped } from '../../internal/read-capped.js'

export interface PreviewTarget {
  readonly lease: Lease
  readonly dispatcher: Dispatcher
  readonly maxBufferBytes: number
}

export interface PreviewRequest {
  readonly method: string
  readonly url: URL
  readonly headers: Headers
  readonly body: unknown
  readonly facts: KubeFacts
}

/** Approval preview: the same request with dryRun=All, summarized (names and counts only, never data). */
export async function dryRunPreview(to: PreviewTarget, request: PreviewRequest): Promise<ApprovalPreview> {
  const { method, url, headers, body, facts } = request
  const dry = new URL(url)
  dry.searchParams.set('dryRun', 'All')
  const authorization = bearer(to.lease.credential)
  const h = new Headers(headers)
  h.set('authorization', authorization)
  h.set('accept-encoding', 'identity')
  // The summary reads names and counts from plain JSON, whatever the caller asked for.
  h.set('accept', 'application/json')
  const init = {
    method,
    headers: h,
    body: body ?? undefined,
    redirect: 'manual',
    dispatcher: to.dispatcher,
  }
  const res = await fetch(dry, init as unknown as RequestInit)
  // Names and reasons go to approvers: never the token, even from a server echoing it.
  const scrub =
    textScrubber(echoNeedles([authorization, authorization.replace(/^Bearer /, '')])) ?? ((t) => t)
  const text = scrub(await readCapped(res, to.maxBufferBytes, 'a Kubernetes response'))
  let parsed: any
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  const target = `${facts.resource}${facts.namespace ? ` in ${facts.namespace}` : ''}${facts.name ? ` named ${facts.name}` : ''}`
  if (!res.ok) {
    const reason = typeof parsed?.reason === 'string' ? parsed.reason : `HTTP ${res.status}`
    return {
      summary: `dry run of ${facts.verb} ${target} fails: ${reason}`,
      dryRun: { ok: false, status: res.status, reason },
    }
  }
  const items = Array.isArray(parsed?.items) ? parsed.items : undefined
  const kind = typeof parsed?.kind === 'string' ? parsed.kind : ''
  const summary =
    items !== undefined
      ? `dry run: ${facts.verb} ${target} affects ${items.length} object(s)`
      : `dry run: ${facts.verb} ${target} succeeds${kind && kind !== 'Status' ? ` (${kind})` : ''}`
  return {
    summary,
    ...(items !== undefined ? { rowsAffected: [items.length] } : {}),
    dryRun: {
      ok: true,
      status: res.status,
      kind,
      names: items
        ? items.map((i: any) => String(i?.metadata?.name ?? '')).slice(0, 50)
        : [String(parsed?.metadata?.name ?? parsed?.details?.name ?? facts.name)],
    },
  }
}

/** The `Authorization` value for a broker credential; the only place /kube reveals a secret. */
export function bearer(credential: Credential | undefined): string {
  if (credential === undefined)
    throw new WardenError('ERR_WARDEN_BROKER', 'no lease was issued for the Kubernetes request')
  if (credential.type === 'token') return `Bearer ${revealSecret(credential.token)}`
  if (credential.type === 'headers') {
    const entry = Object.entries(credential.headers).find(([k]) => k.toLowerCase() === 'authorization')
    if (entry) return revealSecret(entry[1])
  }
  throw new WardenError(
    'ERR_WARDEN_BROKER',
    `the broker issued a ${credential.type} credential for a Kubernetes resource; expected a bearer token (type "token")`,
  )
}
