import { createRequire } from 'node:module'
import { hostname } from 'node:os'
import { WardenTypeError } from '@warden/policy'
import type { AuditRecord, OutcomeStatus } from './audit-record.js'

/** The OCSF schema version toOcsf's events follow (test/ocsf/ validates them). Exported from `@warden/core`. */
export const OCSF_VERSION = '1.8.0'

/** An OCSF 1.8 event (Datastore Activity 6005, API Activity 6003, or Authentication 3002 for sessions). */
export interface OcsfEvent {
  readonly class_uid: 6005 | 6003 | 3002
  readonly class_name: string
  readonly category_uid: 6 | 3
  readonly category_name: string
  readonly activity_id: number
  readonly activity_name: string
  readonly type_uid: number
  readonly time: number
  readonly severity_id: number
  readonly status_id: 1 | 2
  readonly status: 'Success' | 'Failure'
  readonly action_id: 1 | 2
  readonly disposition_id: 1 | 2
  readonly [field: string]: unknown
}

/** Where the events come from, which a record does not say. */
export interface OcsfOptions {
  /**
   * The host the guarded process runs on (`src_endpoint`, required by API and Datastore Activity).
   * Default: `{ hostname: os.hostname() }`.
   */
  readonly source?: { readonly hostname?: string; readonly ip?: string; readonly name?: string }
  /** The cloud the process runs in. When given, events declare OCSF's `cloud` profile and carry it. */
  readonly cloud?: { readonly provider: string; readonly region?: string; readonly account?: string }
}

// OCSF 1.8 activity ids.
const DATASTORE = {
  read: [1, 'Read'],
  update: [2, 'Update'],
  query: [4, 'Query'],
  write: [5, 'Write'],
  create: [6, 'Create'],
  delete: [7, 'Delete'],
  other: [99, 'Other'],
} as const
const API = {
  create: [1, 'Create'],
  read: [2, 'Read'],
  update: [3, 'Update'],
  delete: [4, 'Delete'],
  other: [99, 'Other'],
} as const
const SEVERITY = { ok: 1, error: 2, denied: 3, rejected: 3, expired: 2 } as const satisfies Record<
  OutcomeStatus,
  number
>
// user.type_id: 1 User, 4 Service, 99 Other (the principal type in `type`), 0 Unknown
const USER_TYPE: Record<string, number> = { service: 4, user: 1, agent: 99, workload: 99 }

let productVersion: string | undefined
function wardenVersion(): string {
  // src/audit and dist/audit are both two levels under the package root
  productVersion ??= (createRequire(import.meta.url)('../../package.json') as { version: string }).version
  return productVersion
}

/**
 * Maps an audit record to an OCSF 1.8 event: SQL commands to Datastore Activity (6005), every other
 * command (ssh, kube, http, tools) to API Activity (6003), session open/close/refused to
 * Authentication (3002). Events declare their profiles (`security_control`, and `cloud` when
 * `options.cloud` is given) and validate against the OCSF schema for their class. The full Warden
 * record is kept under `unmapped.warden`, so nothing is lost.
 * Exported from `@warden/core`. Throws `ERR_WARDEN_CONFIG` for anything but a command or session record.
 * @example const event = toOcsf(record, { cloud: { provider: 'AWS', region: 'eu-west-1' } })
 */
export function toOcsf(record: AuditRecord, options: OcsfOptions = {}): OcsfEvent {
  if (record === null || typeof record !== 'object' || typeof record.time !== 'string')
    throw new WardenTypeError('toOcsf: expected a Warden audit record (an object with `time`, `type`, ...)')
  const type = record.type as string | undefined
  if (type === 'outcome' || type === 'repair' || typeof record.principal !== 'object')
    throw new WardenTypeError(
      `toOcsf: a ${type ?? 'record without principal'} record is not an event; map command and session records (readAudit and memorySink join outcomes into their commands)`,
    )
  const status = record.outcome?.status ?? 'ok'
  const refused = record.type === 'session.refused'
  const success = refused ? false : status === 'ok'
  const allowed = refused ? false : status === 'ok' || status === 'error'
  const principal = record.principal
  const user = {
    uid: principal.id,
    name: principal.id,
    type: principal.type || undefined,
    type_id: principal.type ? (USER_TYPE[principal.type] ?? 99) : 0,
    groups: principal.groups.map((name) => ({ name })),
  }
  const source = options.source ?? { hostname: hostname() }
  const common = {
    time: Date.parse(record.time),
    severity_id: refused ? 3 : SEVERITY[status],
    status_id: success ? 1 : 2,
    status: success ? 'Success' : 'Failure',
    status_detail: record.outcome?.error,
    status_code: record.outcome?.code,
    action_id: allowed ? 1 : 2,
    action: allowed ? 'Allowed' : 'Denied',
    disposition_id: allowed ? 1 : 2,
    disposition: allowed ? 'Allowed' : 'Blocked',
    // OCSF durations are whole milliseconds (long_t); Warden measures fractions
    duration: record.outcome?.ms === undefined ? undefined : Math.round(record.outcome.ms),
    message: record.decision ? `${record.decision.effect} by ${record.decision.rule}` : record.type,
    metadata: {
      version: OCSF_VERSION,
      uid: record.id,
      sequence: record.seq,
      correlation_uid: record.session,
      log_name: 'warden.audit',
      product: { name: 'Warden', vendor_name: 'Warden', version: wardenVersion() },
      // declared, so validators apply exactly these profiles' attributes (none: all of them)
      profiles: options.cloud ? ['security_control', 'cloud'] : ['security_control'],
    },
    cloud: options.cloud
      ? {
          provider: options.cloud.provider,
          region: options.cloud.region,
          account: options.cloud.account === undefined ? undefined : { uid: options.cloud.account },
        }
      : undefined,
    actor: { user, session: { uid: record.session } },
    src_endpoint: { ...source },
    policy: record.decision
      ? { name: record.decision.rule, desc: record.decision.reason, version: record.decision.revision }
      : undefined,
    unmapped: { warden: record },
  } as const

  if (record.type !== undefined && record.type !== 'command') {
    const [activity_id, activity_name] = record.type === 'session.close' ? [2, 'Logoff'] : [1, 'Logon']
    return {
      class_uid: 3002,
      class_name: 'Authentication',
      category_uid: 3,
      category_name: 'Identity & Access Management',
      activity_id,
      activity_name,
      type_uid: 300200 + activity_id,
      user,
      service: { name: 'Warden' },
      session: { uid: record.session },
      ...common,
    }
  }

  const kind = record.resource?.kind
  if (kind === 'postgres' || kind === 'mysql') {
    const types = (record.facts as { types?: readonly string[] } | undefined)?.types ?? []
    const [activity_id, activity_name] = datastoreActivity(types)
    return {
      class_uid: 6005,
      class_name: 'Datastore Activity',
      category_uid: 6,
      category_name: 'Application Activity',
      activity_id,
      activity_name,
      type_uid: 600500 + activity_id,
      // database.type_id 1: Relational
      database: {
        name: record.resource?.name,
        type: kind === 'postgres' ? 'PostgreSQL' : 'MySQL',
        type_id: 1,
      },
      type_id: 1,
      type: 'Database',
      query_info: { uid: record.id, query_string: record.command, data: { rows: record.outcome?.rows } },
      ...common,
    }
  }
  const [activity_id, activity_name] = apiActivity(record.action ?? '')
  return {
    class_uid: 6003,
    class_name: 'API Activity',
    category_uid: 6,
    category_name: 'Application Activity',
    activity_id,
    activity_name,
    type_uid: 600300 + activity_id,
    api: {
      operation: record.action ?? '',
      service: record.resource ? { name: record.resource.kind } : undefined,
      // the command line of ssh.exec, the request line of kube and http, a tool's name and arguments
      request: {
        uid: record.id,
        data: record.command === undefined ? undefined : { command_line: record.command },
      },
    },
    resources: record.resource ? [{ name: record.resource.name, type: record.resource.kind }] : [],
    ...httpFields(record),
    ...common,
  }
}

/** http.request facts as OCSF's http_request and dst_endpoint. */
function httpFields(record: AuditRecord): Record<string, unknown> {
  if (record.action !== 'http.request') return {}
  const facts = record.facts as { method?: string; url?: string; host?: string; path?: string } | undefined
  if (typeof facts?.url !== 'string' || facts.url === '') return {}
  return {
    http_request: {
      http_method: facts.method,
      url: { url_string: facts.url, hostname: facts.host || undefined, path: facts.path || undefined },
    },
    dst_endpoint: facts.host ? { hostname: facts.host } : undefined,
  }
}

function datastoreActivity(types: readonly string[]): readonly [number, string] {
  if (types.length === 0) return DATASTORE.other
  if (types.every((t) => t === 'SELECT' || t === 'SHOW' || t === 'EXPLAIN')) return DATASTORE.query
  if (types.some((t) => t === 'DELETE' || t === 'DROP' || t === 'TRUNCATE')) return DATASTORE.delete
  if (types.some((t) => t === 'CREATE')) return DATASTORE.create
  if (types.some((t) => t === 'UPDATE' || t === 'ALTER')) return DATASTORE.update
  if (types.some((t) => t === 'INSERT' || t === 'COPY' || t === 'MERGE' || t === 'REPLACE'))
    return DATASTORE.write
  return DATASTORE.other
}

function apiActivity(action: string): readonly [number, string] {
  switch (action) {
    case 'kube.get':
    case 'kube.list':
    case 'kube.watch':
    case 'sftp.read':
      return API.read
    case 'kube.create':
    case 'sftp.write':
      return API.create
    case 'kube.update':
    case 'kube.patch':
      return API.update
    case 'kube.delete':
    case 'kube.deletecollection':
    case 'sftp.remove':
      return API.delete
    default:
      return API.other
  }
}
