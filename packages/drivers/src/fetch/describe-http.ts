import { type HttpFacts, WardenError } from '@warden/policy'

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

/** Headers common frameworks (Express method-override, Rails, Spring, ASP.NET, Laravel…) act on instead of the method. */
export const METHOD_OVERRIDE_HEADERS = [
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
] as const
// RFC 9110 token: what a method can be.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

export interface DescribeHttpOptions {
  /**
   * `effective` (default): `http.method` is the method an override header names, as the servers that
   * honour them act on it. `fact`: `http.method` stays the method sent (the override is only a fact).
   */
  readonly methodOverride?: 'effective' | 'fact'
}

/**
 * Describes one HTTP request as the `http` facts policies see: method (the effective one: see
 * `methodOverride`), `wireMethod`, `methodOverride`, url, host (`host[:port]`, lower-case, IDNA ASCII, no
 * trailing dot), path, query (multi-valued parameters joined with `,`) and headers (lower-case names,
 * credential headers removed). Override headers that disagree, or name something that is not a method,
 * are refused. Exported from `@warden/drivers/fetch`. Throws `ERR_WARDEN_DESCRIBE`.
 * @example describeHttp('GET', 'https://api.example.com/v1/users?limit=10', { accept: 'application/json' })
 */
export function describeHttp(
  method: string,
  url: string | URL,
  headers?: Headers | Readonly<Record<string, string>>,
  extraCredentialHeaders: readonly string[] = [],
  options: DescribeHttpOptions = {},
): HttpFacts {
  const u = normalizeUrl(typeof url === 'string' ? new URL(url) : url)
  const query: Record<string, string> = {}
  for (const key of new Set(u.searchParams.keys())) query[key] = u.searchParams.getAll(key).join(',')
  const out: Record<string, string> = {}
  const extra = extraCredentialHeaders.map((h) => h.toLowerCase())
  const entries = headers instanceof Headers ? headers.entries() : Object.entries(headers ?? {})
  const overrides = new Set<string>()
  for (const [name, value] of entries) {
    const key = name.toLowerCase()
    if ((METHOD_OVERRIDE_HEADERS as readonly string[]).includes(key))
      overrides.add(String(value).trim().toUpperCase())
    if (CREDENTIAL_HEADERS.has(key) || extra.includes(key)) continue
    out[key] = String(value)
  }
  const wire = method.toUpperCase()
  const override = methodOverride(overrides)
  return Object.freeze({
    method: override !== '' && (options.methodOverride ?? 'effective') === 'effective' ? override : wire,
    wireMethod: wire,
    methodOverride: override,
    url: stripFragment(u),
    host: u.host,
    path: u.pathname,
    query: Object.freeze(query),
    headers: Object.freeze(out),
  })
}

/** One method named by the override headers, '' for none; disagreeing or malformed ones are refused. */
function methodOverride(values: ReadonlySet<string>): string {
  if (values.size === 0) return ''
  const [value] = values
  // Two headers (or one repeated, joined by ", ") naming different methods: which one a server takes depends
  // on its framework, so no single fact is true.
  if (values.size > 1 || !TOKEN.test(value ?? ''))
    throw new WardenError(
      'ERR_WARDEN_DESCRIBE',
      `method-override headers must name one HTTP method (got ${[...values].map((v) => JSON.stringify(v)).join(', ')}); send the method itself instead`,
    )
  return value as string
}

/**
 * The URL with its host as DNS and TLS see it: `new URL` already lower-cases and IDNA-encodes
 * (domainToASCII) the host; a trailing dot (the fully qualified form of the same name) is dropped, so
 * `api.example.com.` is decided, matched to the origin and sent as `api.example.com`.
 */
export function normalizeUrl(u: URL): URL {
  if (!u.hostname.endsWith('.')) return u
  const c = new URL(u.href)
  c.hostname = u.hostname.slice(0, -1)
  return c
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
