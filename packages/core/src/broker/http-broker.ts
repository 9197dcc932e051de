import { WardenError } from '@warden/policy'
import { revealSecret, Secret } from '../secret.js'
import type { Broker, Credential, Lease, LeaseRequest } from './broker.js'

export interface HttpBrokerOptions {
  /** Base URL of the broker; leases live under `${url}/leases`. */
  readonly url: string | URL
  /** Extra request headers (e.g. a client credential of this service), as Secrets. */
  readonly headers?: Readonly<Record<string, Secret>>
  /** Per-request timeout, ms (default 5000). */
  readonly timeoutMs?: number
  /** fetch implementation (default globalThis.fetch). */
  readonly fetch?: typeof fetch
}

/**
 * A broker over a small JSON protocol (see the package README, "httpBroker protocol"):
 * `POST {url}/leases` with the session's token issues, `POST {url}/leases/{id}/renew` renews,
 * `DELETE {url}/leases/{id}` revokes. Secrets in responses become `Secret`s immediately.
 * @example
 * const broker = httpBroker({ url: 'https://broker.internal/v1' })
 */
export function httpBroker(options: HttpBrokerOptions): Broker {
  let base: URL
  try {
    base = new URL(String(options.url))
  } catch {
    throw new WardenError('ERR_WARDEN_CONFIG', 'httpBroker: url is not a URL')
  }
  const prefix = base.href.replace(/\/+$/, '')
  const doFetch = options.fetch ?? globalThis.fetch
  const timeout = options.timeoutMs ?? 5000
  // The token a lease was issued with, for its renew/revoke calls (those happen outside any command).
  const tokens = new WeakMap<Lease, Secret>()

  const call = async (
    method: 'POST' | 'DELETE',
    path: string,
    body: unknown,
    token: Secret | undefined,
  ): Promise<{ status: number; json: unknown }> => {
    const headers: Record<string, string> = { accept: 'application/json' }
    for (const [k, v] of Object.entries(options.headers ?? {})) headers[k.toLowerCase()] = revealSecret(v)
    if (token !== undefined) headers.authorization = `Bearer ${revealSecret(token)}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    let res: Response
    try {
      res = await doFetch(`${prefix}/${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeout),
        redirect: 'error',
      })
    } catch (err) {
      // The reason is the error's class and system code only: a fetch implementation's message
      // (or a proxy's) is not ours to print, and may quote what was sent.
      const e = err as { name?: unknown; code?: unknown; cause?: { code?: unknown } }
      const name = typeof e?.name === 'string' && /^[A-Za-z]\w{0,40}$/.test(e.name) ? e.name : 'Error'
      const code = [e?.code, e?.cause?.code].find(
        (c): c is string => typeof c === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(c),
      )
      throw new WardenError(
        'ERR_WARDEN_BROKER',
        `httpBroker: ${method} ${base.origin}${base.pathname.replace(/\/+$/, '')}/leases failed: ${name}${code ? ` ${code}` : ''}`,
      )
    }
    const text = await res.text()
    if (!res.ok) {
      // Only the status: the broker's error text is not passed on, since a broker that rejects
      // with a credential (or the request's token) in its message would leak it to the caller.
      throw new WardenError(
        'ERR_WARDEN_BROKER',
        `httpBroker: ${method} ${path.replace(/\/[^/]+(\/renew)?$/, '/{id}$1')} answered ${res.status}`,
      )
    }
    let json: unknown
    try {
      json = text === '' ? undefined : JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: res.status, json }
  }

  const toLease = (json: unknown, token: Secret | undefined): Lease => {
    const lease = parseLease(json)
    if (token !== undefined) tokens.set(lease, token)
    return lease
  }

  return {
    async issue(request: LeaseRequest): Promise<Lease> {
      const { resource, principal } = request
      const { json } = await call(
        'POST',
        'leases',
        {
          resource: { kind: resource.kind, name: resource.name, labels: resource.labels },
          principal: {
            id: principal.id,
            type: principal.type,
            groups: principal.groups,
            issuer: principal.issuer,
          },
          scope: request.scope,
          publicKey: request.publicKey,
        },
        request.token,
      )
      return toLease(json, request.token)
    },
    async renew(lease: Lease): Promise<Lease> {
      const token = tokens.get(lease)
      const { json } = await call('POST', `leases/${encodeURIComponent(lease.id)}/renew`, {}, token)
      return toLease(json, token)
    },
    async revoke(lease: Lease): Promise<void> {
      try {
        await call('DELETE', `leases/${encodeURIComponent(lease.id)}`, undefined, tokens.get(lease))
      } catch (err) {
        // Already gone is fine: revocation is idempotent.
        if (!(err instanceof WardenError && / answered 404$/.test(err.message))) throw err
      }
    },
  }
}

function bad(what: string): WardenError {
  return new WardenError('ERR_WARDEN_BROKER', `httpBroker: malformed lease response (${what})`)
}

function secretField(obj: Record<string, unknown>, field: string): Secret {
  const v = obj[field]
  if (typeof v !== 'string' || v === '') throw bad(`credential.${field} must be a non-empty string`)
  return new Secret(v)
}

function parseLease(json: unknown): Lease {
  if (json === null || typeof json !== 'object') throw bad('not a JSON object')
  const o = json as Record<string, unknown>
  if (typeof o.id !== 'string' || o.id === '') throw bad('id')
  const expiresAt = new Date(
    typeof o.expiresAt === 'string' || typeof o.expiresAt === 'number' ? o.expiresAt : Number.NaN,
  )
  if (Number.isNaN(expiresAt.getTime())) throw bad('expiresAt must be an ISO date')
  const c = o.credential as Record<string, unknown> | null
  if (c === null || typeof c !== 'object') throw bad('credential')
  let credential: Credential
  switch (c.type) {
    case 'password':
      if (typeof c.username !== 'string') throw bad('credential.username')
      credential = { type: 'password', username: c.username, password: secretField(c, 'password') }
      break
    case 'token':
      credential = { type: 'token', token: secretField(c, 'token') }
      break
    case 'ssh':
      if (typeof c.username !== 'string') throw bad('credential.username')
      if (c.certificate !== undefined && typeof c.certificate !== 'string')
        throw bad('credential.certificate')
      if (
        c.hostKeys !== undefined &&
        !(Array.isArray(c.hostKeys) && c.hostKeys.every((k) => typeof k === 'string'))
      )
        throw bad('credential.hostKeys')
      credential = {
        type: 'ssh',
        username: c.username,
        privateKey: secretField(c, 'privateKey'),
        certificate: c.certificate as string | undefined,
        hostKeys: c.hostKeys as string[] | undefined,
      }
      break
    case 'headers': {
      const h = c.headers as Record<string, unknown> | null
      if (h === null || typeof h !== 'object') throw bad('credential.headers')
      const headers: Record<string, Secret> = {}
      for (const k of Object.keys(h)) headers[k.toLowerCase()] = secretField(h, k)
      credential = { type: 'headers', headers: Object.freeze(headers) }
      break
    }
    default:
      throw bad('credential.type must be password, token, ssh or headers')
  }
  return Object.freeze({
    id: o.id,
    credential: Object.freeze(credential),
    expiresAt,
    renewable: o.renewable === true,
  })
}
