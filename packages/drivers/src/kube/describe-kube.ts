import type { KubeFacts, KubeVerb } from '@warden/policy'

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

/**
 * Describes one Kubernetes API request as the `kube` facts policies see, following the API server's own
 * request-info rules: `verb` (get list watch create update patch delete deletecollection exec attach
 * portforward), `group` (`''` for core), `version`, `resource`, `subresource`, `namespace`, `name`, and for
 * exec the `command` argv and `container`. Discovery and other non-resource paths (`/api`, `/apis/apps/v1`,
 * `/version`) are `get` with an empty `resource`.
 * Exported from `@warden/drivers/kube`.
 * @example describeKube('GET', '/api/v1/namespaces/default/pods?watch=true').verb // 'watch'
 */
export function describeKube(method: string, pathAndQuery: string | URL): KubeFacts {
  const url = typeof pathAndQuery === 'string' ? new URL(pathAndQuery, 'http://k8s.invalid') : pathAndQuery
  const m = method.toUpperCase()
  let verb: string = METHOD_VERBS[m] ?? m.toLowerCase()
  let parts = url.pathname.split('/').filter(Boolean).map(safeDecode)
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
    return facts({ verb: verb === 'get' ? 'get' : verb })
  }
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
  return facts({ verb, group, version, resource, subresource, namespace, name, command, container })
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
  })
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}

/** Verbs that change cluster state: held-for-approval requests of these get a `dryRun=All` preview. */
export const WRITE_VERBS: ReadonlySet<string> = new Set([
  'create',
  'update',
  'patch',
  'delete',
  'deletecollection',
])
