import type { Command, ExecuteContext, SessionSource } from '@warden/core'
import { WardenDeniedError, WardenError, WardenTypeError } from '@warden/policy'
import { Agent, type Dispatcher } from 'undici'
import { textScrubber } from '../internal/credential-echo.js'
import { describeHttp, normalizeUrl, stripFragment } from './describe-http.js'
import { applyCredential, credentialNeedles } from './internal/apply-credential.js'
import { linkSignals } from './internal/link-signals.js'
import { hasBody, maskResponse, recordResponse, withUrl } from './internal/mask-response.js'

export interface CreateFetchOptions {
  /** The resource name policies match on (`http:<resource>`). */
  readonly resource: string
  /** The one origin (`https://api.example.com`) that receives the broker's credential. Exact match, port included. */
  readonly origin: string
  readonly labels?: Readonly<Record<string, string>>
  /** Lease scope passed to the broker (default ''). */
  readonly scope?: string
  /** Whether requests to `origin` carry a broker credential (default true). */
  readonly credentials?: boolean
  /** Extra header names to keep out of facts and audit records (e.g. a custom API-key header). */
  readonly credentialHeaders?: readonly string[]
  /** When masks apply and the body is neither JSON nor text: `deny` (default, fail closed) or `pass` it unmasked. */
  readonly binaryBodies?: 'deny' | 'pass'
  /** JSON bodies (and single lines of streamed text) larger than this fail closed when masks apply (default 16 MiB). */
  readonly maxBufferBytes?: number
  /** Redirect hops followed before failing, like fetch's own limit (default 20). */
  readonly maxRedirects?: number
  /** The undici dispatcher requests use (e.g. an `Agent` with a custom CA). Default: a private `Agent`, never the global one. */
  readonly dispatcher?: Dispatcher
  /**
   * Method-override headers (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`) are always facts
   * (`http.methodOverride`). `effective` (default): `http.method` is the method they name, as servers that
   * honour them act on it. `fact`: `http.method` stays the method sent (for a server known to ignore them).
   */
  readonly methodOverride?: 'effective' | 'fact'
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])
const BODY_HEADERS = [
  'content-encoding',
  'content-language',
  'content-location',
  'content-type',
  'content-length',
]

/**
 * A standard `fetch` whose every request (and every redirect hop) is described as `http` facts, decided by
 * policy, audited, and masked on the way back. The broker's credential is added only for requests to
 * `origin`; a redirect to another origin is decided on its own and never carries it.
 * Exported from `@warden/drivers/fetch`. Rejects with `ERR_WARDEN_DENIED`, `ERR_WARDEN_APPROVAL_REJECTED`,
 * `ERR_WARDEN_MASKING`, `ERR_WARDEN_CONFIG`, or fetch's own `TypeError` for network failures.
 * @example
 * const api = createFetch(warden, { resource: 'billing-api', origin: 'https://billing.internal' })
 * const invoices = await (await api('https://billing.internal/v1/invoices')).json()
 */
export function createFetch(source: SessionSource, options: CreateFetchOptions): typeof globalThis.fetch {
  if (typeof source?.current !== 'function')
    throw new WardenTypeError('createFetch: the first argument must be a Session or a Warden')
  if (typeof options?.resource !== 'string' || options.resource === '')
    throw new WardenTypeError('createFetch: "resource" must be a non-empty string')
  let origin: string
  try {
    origin = normalizeUrl(new URL(options.origin)).origin
  } catch {
    throw new WardenTypeError('createFetch: "origin" must be an absolute URL such as https://api.example.com')
  }
  if (origin === 'null' || !/^https?:$/.test(new URL(options.origin).protocol))
    throw new WardenTypeError('createFetch: "origin" must be an http(s) origin')
  const maxBufferBytes = options.maxBufferBytes ?? 16 * 2 ** 20
  if (!Number.isInteger(maxBufferBytes) || maxBufferBytes <= 0)
    throw new WardenTypeError('createFetch: "maxBufferBytes" must be > 0')
  const maxRedirects = options.maxRedirects ?? 20
  if (!Number.isInteger(maxRedirects) || maxRedirects < 0)
    throw new WardenTypeError('createFetch: "maxRedirects" must be >= 0')
  const binaryBodies = options.binaryBodies ?? 'deny'
  if (binaryBodies !== 'deny' && binaryBodies !== 'pass')
    throw new WardenTypeError('createFetch: "binaryBodies" must be "deny" or "pass"')
  const methodOverride = options.methodOverride ?? 'effective'
  if (methodOverride !== 'effective' && methodOverride !== 'fact')
    throw new WardenTypeError('createFetch: "methodOverride" must be "effective" or "fact"')
  const describeOptions = { methodOverride } as const
  const resource: Command['resource'] = Object.freeze({
    kind: 'http',
    name: options.resource,
    ...(options.labels ? { labels: Object.freeze({ ...options.labels }) } : {}),
  })
  const withCredentials = options.credentials ?? true
  const leaseOption = withCredentials ? (options.scope ? { scope: options.scope } : true) : false
  const extraHeaders = Object.freeze([...(options.credentialHeaders ?? [])])
  // Our own dispatcher: nobody's setGlobalDispatcher (a proxy, a mock) sees the credential we add.
  const dispatcher = options.dispatcher ?? new Agent()
  const maskOptions = { maxBufferBytes, binaryBodies } as const
  const rawFetch = globalThis.fetch

  async function hop(
    url: URL,
    method: string,
    headers: Headers,
    body: ArrayBuffer | null,
    signal: AbortSignal | null,
  ) {
    const sameOrigin = url.origin === origin
    let text = `${method} ${stripFragment(url)}`
    const session = source.current()
    let http: ReturnType<typeof describeHttp>
    try {
      http = describeHttp(method, url, headers, extraHeaders, describeOptions)
    } catch (error) {
      if (!(error instanceof WardenError) || error.code !== 'ERR_WARDEN_DESCRIBE') throw error
      // Recorded as a refusal of what was asked (no facts: none can be trusted), never sent.
      // Decided by core's built-in rule before policy: denied and audited whatever policy says.
      const refused: Command = {
        resource,
        action: 'http.request',
        text,
        refusal: { rule: 'warden:http-method-override', reason: error.message },
      }
      return session.execute(refused, () => {
        throw new WardenDeniedError('warden:http-method-override', error.message)
      })
    }
    if (http.methodOverride) text += ` (method override: ${http.methodOverride})`
    const command: Command = { resource, action: 'http.request', text, http }
    return session.execute(
      command,
      async (context: ExecuteContext) => {
        const link = linkSignals(signal, context.signal)
        const sent = new Headers(headers)
        if (sameOrigin && context.lease !== undefined) applyCredential(sent, context.lease.credential)
        // Node's bundled fetch takes an undici dispatcher; its RequestInit type does not declare the field.
        const init = {
          method,
          headers: sent,
          body,
          redirect: 'manual',
          signal: link.signal,
          dispatcher,
        } as unknown as RequestInit
        try {
          const res = await rawFetch(url, init)
          // The command ends when its body does: its outcome (duration, bytes, masks, a late error)
          // is stored before the caller sees the body end.
          const command = hasBody(res) ? context.stream() : undefined
          // A server that echoes the request (its Authorization header) must not hand the
          // injected credential to the caller: those values are scrubbed from headers and body.
          const needles =
            sameOrigin && context.lease !== undefined ? credentialNeedles(context.lease.credential) : []
          const scrub = textScrubber(needles)
          if (context.masker === null && scrub === undefined) return recordResponse(res, command)
          return await maskResponse(res, context.masker, {
            ...maskOptions,
            scrub,
            scrubNeedles: needles,
            command,
          })
        } finally {
          link.release()
        }
      },
      { lease: sameOrigin ? leaseOption : false },
    )
  }

  return async function guardedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    if (
      init !== undefined &&
      init !== null &&
      'dispatcher' in init &&
      (init as { dispatcher?: unknown }).dispatcher !== undefined
    )
      throw new WardenError(
        'ERR_WARDEN_CONFIG',
        'a per-call "dispatcher" would bypass Warden; configure it once in createFetch options',
      )
    // The Request constructor normalizes every input shape exactly as fetch would (and rejects userinfo in URLs).
    const request = new Request(input, init)
    let url = normalizeUrl(new URL(request.url))
    let method = request.method
    const headers = new Headers(request.headers)
    let body: ArrayBuffer | null = request.body === null ? null : await request.arrayBuffer()
    const mode = request.redirect
    const signal = init?.signal ?? (input instanceof Request ? input.signal : null)
    for (let redirects = 0; ; redirects++) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        throw new WardenTypeError(`fetch failed: unsupported URL scheme ${url.protocol}`)
      const res = await hop(url, method, headers, body, signal)
      const location = res.headers.get('location')
      if (!REDIRECTS.has(res.status) || location === null || mode === 'manual')
        return withUrl(res, res.url || url.href, redirects > 0)
      await res.body?.cancel().catch(() => {})
      if (mode === 'error')
        throw new WardenTypeError('fetch failed: redirect received with redirect mode "error"')
      if (redirects >= maxRedirects) throw new WardenTypeError('fetch failed: redirect count exceeded')
      const next = normalizeUrl(new URL(location, url))
      // Fetch spec, HTTP-redirect fetch: 303 (and 301/302 after POST) turn into a body-less GET.
      if (
        (res.status === 303 && method !== 'GET' && method !== 'HEAD') ||
        ((res.status === 301 || res.status === 302) && method === 'POST')
      ) {
        method = 'GET'
        body = null
        for (const h of BODY_HEADERS) headers.delete(h)
      }
      // Like fetch: caller-supplied credentials do not follow a redirect to another origin.
      if (next.origin !== url.origin)
        for (const h of ['authorization', 'proxy-authorization', 'cookie', 'host']) headers.delete(h)
      url = next
    }
  }
}
