import { type KubeFacts, type KubeImpersonateFacts, type KubeVerb, WardenError } from '@warden/policy'

// Namespace subresources that are not namespaced resources (k8s.io/apiserver RequestInfoFactory).
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize'])
// Streaming subresources get their own verbs (and actions), so policies can tell `exec` from a read.
const STREAM_SUBRESOURCES = new Set(['exec', 'attach', 'portforward'])
const METHOD_VERBS: Record<string, KubeVerb> = {
  GET: 'get',
  HEAD: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
}

export interface DescribeKubeOptions {
  /** The path prefix of the cluster URL (`https://gw/k8s` → `/k8s`): facts come from the path under it. */
  readonly basePath?: string
  /** The request headers: `Impersonate-*` become `kube.impersonate`. */
  readonly headers?: Headers | Readonly<Record<string, string>>
}

/**
 * Describes one Kubernetes API request as the `kube` facts policies see, following the API server's own
 * request-info rules: `verb` (get list watch create update patch delete deletecollection exec attach
 * portforward), `group` (`''` for core), `version`, `resource`, `subresource`, `namespace`, `name`, for
 * exec the `command` argv and `container`, `dryRun` (`dryRun=All`) and `impersonate` (the
 * `Impersonate-*` headers). The path is read as the Go API server reads it: under the cluster's base
 * path, percent-decoded before it is split, so a segment that decodes to contain `/` (or does not decode,
 * or is empty) is refused rather than described as a resource the server would not serve. Discovery and
 * other non-resource paths (`/api`, `/apis/apps/v1`, `/version`) are `get` with an empty `resource`.
 * Exported from `@warden/drivers/kube`. Throws `ERR_WARDEN_DESCRIBE` for such paths, `ERR_WARDEN_CONFIG` for a
 * path outside `basePath`.
 * @example describeKube('GET', '/api/v1/namespaces/default/pods?watch=true').verb // 'watch'
 */
export function describeKube(
  method: string,
  pathAndQuery: string | URL,
  options: DescribeKubeOptions = {},
): KubeFacts {
  const url = typeof pathAndQuery === 'string' ? new URL(pathAndQuery, 'http://k8s.invalid') : pathAndQuery
  const m = method.toUpperCase()
  let verb: string = METHOD_VERBS[m] ?? m.toLowerCase()
  let parts = apiPath(url.pathname, options.basePath ?? '')
  const dryRunValues = url.searchParams.getAll('dryRun')
  // The server rejects any value but All (nothing runs); only all-All is a dry run.
  const dryRun = dryRunValues.length > 0 && dryRunValues.every((v) => v === 'All')
  const impersonate = impersonation(options.headers)
  let group = ''
  let version = ''
  if (parts[0] === 'api' && parts.length >= 2) {
    version = parts[1]!
    parts = parts.slice(2)
  } else if (parts[0] === 'apis' && parts.length >= 3) {
    group = parts[1]!
    version = parts[2]!
    parts = parts.slice(3)
  } else {
    // Non-resource URL (discovery, /version, /healthz, /openapi/v2).
    return facts({ verb, dryRun, impersonate })
  }
  // RequestInfoFactory's other special verb: /api/v1/proxy/… (removed from servers in 1.10; not described).
  if (parts[0] === 'proxy' || parts[0] === 'redirect')
    throw new WardenError(
      'ERR_WARDEN_DESCRIBE',
      `the legacy /${parts[0]}/ API path is not supported; use the resource's proxy subresource (…/pods/NAME/proxy)`,
    )
  let watchPrefix = false
  if (parts[0] === 'watch') {
    watchPrefix = true
    parts = parts.slice(1)
  }
  let namespace = ''
  if (parts[0] === 'namespaces' && parts.length > 1) {
    namespace = parts[1]!
    if (parts.length > 2 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) parts = parts.slice(2)
  }
  // For proxy subresources (nodes/proxy, services/proxy, pods/proxy) what follows is the proxied path.
  const [resource = '', name = '', subresource = ''] = parts
  const watchParam = url.searchParams.get('watch')
  if (watchPrefix) verb = 'watch'
  else if (verb === 'get' && name === '' && (watchParam === 'true' || watchParam === '1')) verb = 'watch'
  else if (verb === 'get' && name === '' && resource !== '') verb = 'list'
  else if (verb === 'delete' && name === '' && resource !== '') verb = 'deletecollection'
  let command: string[] = []
  let container = ''
  if (STREAM_SUBRESOURCES.has(subresource)) {
    verb = subresource
    command = url.searchParams.getAll('command')
    container = url.searchParams.get('container') ?? ''
  } else if (subresource === 'log') {
    container = url.searchParams.get('container') ?? ''
  }
  return facts({
    verb,
    group,
    version,
    resource,
    subresource,
    namespace,
    name,
    command,
    container,
    dryRun,
    impersonate,
  })
}

/**
 * The path's segments under `basePath`, decoded as Go's net/url decodes a request path (the API server
 * routes on the decoded path, then splits it on "/"). Refused when that differs from decoding each
 * segment: a `%2F` inside a segment, an escape that does not decode, an empty segment.
 */
function apiPath(pathname: string, basePath: string): string[] {
  const base = basePath.replace(/\/+$/, '')
  if (base !== '' && pathname !== base && !pathname.startsWith(`${base}/`))
    throw new WardenError(
      'ERR_WARDEN_CONFIG',
      `the Kubernetes request path ${pathname} is outside the cluster's base path ${base}`,
    )
  const trimmed = pathname.slice(base.length).replace(/^\/+|\/+$/g, '')
  if (trimmed === '') return []
  return trimmed.split('/').map((segment) => {
    let decoded: string
    try {
      decoded = decodeURIComponent(segment)
    } catch {
      throw refusedPath(pathname, `"${segment}" is not valid percent-encoded UTF-8`)
    }
    if (decoded === '') throw refusedPath(pathname, 'it has an empty segment')
    if (decoded.includes('/'))
      throw refusedPath(pathname, `"${segment}" decodes to "${decoded}", which the API server splits at "/"`)
    return decoded
  })
}

function refusedPath(pathname: string, why: string): WardenError {
  return new WardenError(
    'ERR_WARDEN_DESCRIBE',
    `refusing the Kubernetes path ${pathname}: ${why}; names and namespaces cannot contain "/"`,
  )
}

const IMPERSONATE_EXTRA = 'impersonate-extra-'
const NO_IMPERSONATION: KubeImpersonateFacts = Object.freeze({
  user: '',
  groups: Object.freeze([]),
  uid: '',
  extras: Object.freeze({}),
})

/**
 * `Impersonate-User`, `-Group`, `-Uid`, `-Extra-<key>` as k8s.io/apiserver's impersonation filter
 * reads them: one value per header line (a comma stays inside the value), extra keys lower-cased then
 * path-unescaped (kept as sent when they do not unescape).
 */
function impersonation(headers: DescribeKubeOptions['headers']): KubeImpersonateFacts | undefined {
  if (headers === undefined) return undefined
  const entries = headers instanceof Headers ? [...headers.entries()] : Object.entries(headers)
  let found = false
  let user = ''
  let uid = ''
  const groups: string[] = []
  const extras: Record<string, string[]> = {}
  for (const [rawName, value] of entries) {
    const name = rawName.toLowerCase()
    if (!name.startsWith('impersonate-')) continue
    found = true
    if (name === 'impersonate-user') user = String(value)
    else if (name === 'impersonate-uid') uid = String(value)
    else if (name === 'impersonate-group') groups.push(String(value))
    else if (name.startsWith(IMPERSONATE_EXTRA)) {
      const key = name.slice(IMPERSONATE_EXTRA.length)
      let decoded = key
      try {
        decoded = decodeURIComponent(key)
      } catch {}
      extras[decoded] = [...(extras[decoded] ?? []), String(value)]
    }
    // Any other Impersonate-* header is still an attempt to impersonate: counted as one (found).
  }
  if (!found) return undefined
  return Object.freeze({
    user,
    groups: Object.freeze(groups),
    uid,
    extras: Object.freeze(Object.fromEntries(Object.entries(extras).map(([k, v]) => [k, Object.freeze(v)]))),
  })
}

/** True when the facts carry any impersonation. */
export function impersonates(f: KubeFacts): boolean {
  return f.impersonate !== undefined && f.impersonate !== NO_IMPERSONATION
}

function facts(f: Partial<KubeFacts>): KubeFacts {
  return Object.freeze({
    verb: f.verb ?? '',
    group: f.group ?? '',
    version: f.version ?? '',
    resource: f.resource ?? '',
    subresource: f.subresource ?? '',
    namespace: f.namespace ?? '',
    name: f.name ?? '',
    command: Object.freeze([...(f.command ?? [])]),
    container: f.container ?? '',
    dryRun: f.dryRun ?? false,
    impersonate: f.impersonate ?? NO_IMPERSONATION,
  })
}

/** Verbs that change cluster state: held-for-approval requests of these get a `dryRun=All` preview. */
export const WRITE_VERBS: ReadonlySet<string> = new Set([
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
])
