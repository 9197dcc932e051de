import { WardenTypeError } from '@warden/policy'
import type { AuditRecord, OutcomeStatus } from './audit-record.js'

/** An OCSF 1.3 event (Datastore Activity 6005, API Activity 6003, or Authentication 3002 for sessions). */
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

// OCSF 1.3 activity ids.
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

/**
 * Maps an audit record to OCSF: SQL commands to Datastore Activity (6005), every other command
 * (ssh, kube, http, tools) to API Activity (6003), session open/close/refused to Authentication
 * (3002). The full Warden record is kept under `unmapped.warden`, so nothing is lost.
 */
export function toOcsf(record: AuditRecord): OcsfEvent {
  if (record === null || typeof record !== 'object' || typeof record.time !== 'string')
    throw new WardenTypeError('toOcsf: expected a Warden audit record (an object with `time`, `type`, ...)')
  const status = record.outcome?.status ?? 'ok'
  const success = record.type === 'session.refused' ? false : status === 'ok'
  const allowed = record.type === 'session.refused' ? false : status === 'ok' || status === 'error'
  const common = {
    time: Date.parse(record.time),
    severity_id: record.type === 'session.refused' ? 3 : SEVERITY[status],
    status_id: success ? 1 : 2,
    status: success ? 'Success' : 'Failure',
    status_detail: record.outcome?.error,
    status_code: record.outcome?.code,
    action_id: allowed ? 1 : 2,
    action: allowed ? 'Allowed' : 'Denied',
    disposition_id: allowed ? 1 : 2,
    disposition: allowed ? 'Allowed' : 'Blocked',
    duration: record.outcome?.ms,
    message: record.decision ? `${record.decision.effect} by ${record.decision.rule}` : record.type,
    metadata: {
      version: '1.3.0',
      uid: record.id,
      sequence: record.seq,
      correlation_uid: record.session,
      log_name: 'warden.audit',
      product: { name: 'Warden', vendor_name: 'Warden' },
    },
    actor: {
      user: {
        uid: record.principal.id,
        type: record.principal.type,
        groups: record.principal.groups.map((name) => ({ name })),
      },
      session: { uid: record.session },
    },
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
      database: {
        name: record.resource?.name,
        type: kind === 'postgres' ? 'PostgreSQL' : 'MySQL',
        type_id: 99,
      },
      query_info: { query_string: record.command, data: { rows: record.outcome?.rows } },
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
    api: { operation: record.action, request: { uid: record.id } },
    resources: record.resource ? [{ name: record.resource.name, type: record.resource.kind }] : [],
    ...common,
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
