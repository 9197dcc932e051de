import type { AuditRecord } from '@warden/core'
import type { RequestInput } from '@warden/policy'
import { CliError } from './cli-error.js'

// Which request field holds an action's facts (the record's top-level `facts`); mirrors core.
const FAMILY: Record<string, string> = {
  'sql.query': 'sql',
  'ssh.exec': 'shell',
  'ssh.shell': 'shell',
  'sftp.read': 'sftp',
  'sftp.write': 'sftp',
  'sftp.remove': 'sftp',
  'ssh.forward': 'forward',
  'http.request': 'http',
  'tool.call': 'tool',
}
export const familyOf = (action: string): string | undefined =>
  action.startsWith('kube.') ? 'kube' : FAMILY[action]

/** Per-session context rebuilt while reading a log in order. */
export interface ReplaySessions {
  readonly started: Map<string, Date>
  readonly operations: Map<string, number>
}

export const replaySessions = (): ReplaySessions => ({ started: new Map(), operations: new Map() })

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)

/**
 * Feeds one record to the session context, and for a command record that carries the
 * replayable `request` (principal with claims, resource with labels, other facts), rebuilds the
 * request its decision was made on: at its recorded time, with the session's start (from its
 * `session.open` record) and the count of commands before it. Returns undefined for session
 * events and for command records written without `request`.
 */
export function replayRequest(
  record: AuditRecord,
  sessions: ReplaySessions,
  where: string,
): RequestInput | undefined {
  const type = record.type ?? 'command'
  const time = new Date(record.time)
  if (type === 'session.open') sessions.started.set(record.session, time)
  if (type !== 'command') return undefined
  const before = sessions.operations.get(record.session) ?? 0
  sessions.operations.set(record.session, before + 1)
  const recorded = record.request
  if (!isObject(recorded) || !isObject(recorded.principal)) return undefined
  if (Number.isNaN(time.getTime())) throw new CliError(`${where}: record has no valid time`, 2)
  const action = record.action ?? ''
  const request: Record<string, unknown> = {
    principal: recorded.principal,
    resource: isObject(recorded.resource) ? recorded.resource : { ...record.resource, labels: {} },
    action,
    session: {
      id: record.session,
      startedAt: sessions.started.get(record.session) ?? time,
      operations: before,
    },
    now: time,
  }
  // Flow facts as the command saw them (recorded when non-empty), so flow rules replay exactly.
  if (isObject(recorded.flow)) request.flow = recorded.flow
  const family = familyOf(action)
  if (family !== undefined && isObject(record.facts)) request[family] = record.facts
  if (isObject(recorded.facts)) {
    for (const [key, facts] of Object.entries(recorded.facts)) if (key !== family) request[key] = facts
  }
  return request as RequestInput
}
