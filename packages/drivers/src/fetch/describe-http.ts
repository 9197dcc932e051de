import type { HttpFacts } from '@warden/policy'

/** Header names that carry credentials: never part of facts, audit records or approval requests. */
const CREDENTIAL_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-auth-token',
  'x-amz-security-token',
  'private-token',
])

/**
 * Describes one HTTP request as the `http` facts policies see: method, url, host (`host[:port]`), path,
 * query (multi-valued parameters joined with `,`) and headers (lower-case names, credential headers removed).
 * Exported from `@warden/drivers/fetch`.
 * @example describeHttp('GET', 'https://api.example.com/v1/users?limit=10', { accept: 'application/json' })
 */
export function describeHttp(
  method: string,
  url: string | URL,
  headers?: Headers | Readonly<Record<string, string>>,
  extraCredentialHeaders: readonly string[] = [],
): HttpFacts {
  const u = typeof url === 'string' ? new URL(url) : url
  const query: Record<string, string> = {}
  for (const key of new Set(u.searchParams.keys())) query[key] = u.searchParams.getAll(key).join(',')
  const out: Record<string, string> = {}
  const extra = extraCredentialHeaders.map((h) => h.toLowerCase())
  const entries = headers instanceof Headers ? headers.entries() : Object.entries(headers ?? {})
  for (const [name, value] of entries) {
    const key = name.toLowerCase()
    if (CREDENTIAL_HEADERS.has(key) || extra.includes(key)) continue
    out[key] = String(value)
  }
  return Object.freeze({
    method: method.toUpperCase(),
    url: stripFragment(u),
    host: u.host,
    path: u.pathname,
    query: Object.freeze(query),
    headers: Object.freeze(out),
  })
}

/** The URL as audited: no fragment (never sent), no userinfo (fetch refuses it anyway). */
export function stripFragment(u: URL): string {
  if (u.hash === '' && u.username === '' && u.password === '') return u.href
  const c = new URL(u.href)
  c.hash = ''
  c.username = ''
  c.password = ''
  return c.href
}

export function isCredentialHeader(name: string): boolean {
  return CREDENTIAL_HEADERS.has(name.toLowerCase())
}
