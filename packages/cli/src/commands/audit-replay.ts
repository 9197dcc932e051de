import type { AuditRecord } from '@warden/core'
import { flag, stringOption, UsageError } from '../internal/args.js'
import { readAuditFile } from '../internal/audit-file.js'
import type { CommandSpec } from '../internal/command.js'
import { createProgress, createStyle, type Style } from '../internal/io.js'

export interface TimelineEvent {
  readonly seq: number
  readonly time: string
  /** A command (with its outcome record joined in), a session event, or an outcome whose command is not in the log. */
  readonly type: NonNullable<AuditRecord['type']> | 'outcome'
  /** The command record's id (outcome records name it in `of`). */
  readonly id?: string
  readonly resource?: string
  readonly action?: string
  readonly command?: string
  readonly decision?: AuditRecord['decision']
  readonly approval?: AuditRecord['approval']
  masked: NonNullable<AuditRecord['masked']>
  /** Total values masked in this command. */
  maskedCount: number
  outcome?: AuditRecord['outcome']
  recording?: string
  /** The command ran but no outcome record followed: the process ended while it ran. */
  unknown?: true
}

/** A `repair` record: a sink reopened the log and cut off a torn last line. */
export interface RepairEvent {
  readonly seq: number
  readonly time: string
  readonly bytes: number
  readonly sha256: string
}

/** The timelines of a log, its repairs, and a torn last line not repaired yet. */
export interface Replay {
  readonly sessions: SessionTimeline[]
  readonly repairs: RepairEvent[]
  torn?: { readonly file: string; readonly line: number; readonly chars: number }
}

export interface SessionTimeline {
  readonly id: string
  principal: AuditRecord['principal'] | undefined
  readonly start: string
  end: string
  readonly events: TimelineEvent[]
  readonly counts: {
    commands: number
    allow: number
    deny: number
    approve: number
    ok: number
    error: number
  }
}

function toEvent(record: AuditRecord): TimelineEvent {
  const masked = record.masked ?? []
  return {
    seq: record.seq,
    time: record.time,
    type: record.type ?? 'command',
    ...(record.id !== undefined ? { id: record.id } : {}),
    ...(record.resource ? { resource: `${record.resource.kind}:${record.resource.name}` } : {}),
    ...(record.action ? { action: record.action } : {}),
    ...(record.command !== undefined ? { command: record.command } : {}),
    ...(record.decision ? { decision: record.decision } : {}),
    ...(record.approval ? { approval: record.approval } : {}),
    masked,
    maskedCount: masked.reduce((n, m) => n + m.count, 0),
    ...(record.outcome ? { outcome: record.outcome } : {}),
    ...(typeof record.recording === 'string' ? { recording: record.recording } : {}),
  }
}

interface OutcomeEntry {
  readonly of: string
  readonly outcome: NonNullable<AuditRecord['outcome']>
  readonly masked?: AuditRecord['masked']
  readonly recording?: string
}

/** Fills a command's event from its outcome record. */
function joinOutcome(event: TimelineEvent, entry: OutcomeEntry): void {
  event.outcome = entry.outcome
  if (entry.masked !== undefined) {
    event.masked = entry.masked
    event.maskedCount = entry.masked.reduce((n, m) => n + m.count, 0)
  }
  if (entry.recording !== undefined) event.recording = entry.recording
}

function oneLine(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat
}

const OUTCOME_COLOR = {
  ok: 'green',
  error: 'red',
  denied: 'red',
  rejected: 'red',
  expired: 'yellow',
} as const satisfies Record<NonNullable<AuditRecord['outcome']>['status'], keyof Style>

function clock(time: string): string {
  // HH:MM:SS.mmm of an ISO time; the date is in the session header.
  return time.length >= 23 ? time.slice(11, 23) : time
}

export function formatTimeline(session: SessionTimeline, style: Style): string {
  const p = session.principal
  const c = session.counts
  const out = [
    style.bold(`session ${session.id}`),
    p === undefined
      ? '  principal ? (its session.open record is not in this log)'
      : `  principal ${p.id}${p.type ? ` (${p.type})` : ''}${p.groups?.length ? `  groups ${p.groups.join(', ')}` : ''}`,
    `  ${session.start} → ${session.end}   ${c.commands} command${c.commands === 1 ? '' : 's'}: ` +
      `${c.allow} allowed, ${c.approve} held for approval, ${c.deny} denied; ${c.ok} ok, ${c.error} failed`,
    '',
  ]
  const pad = ' '.repeat(14)
  for (const e of session.events) {
    const at = style.dim(clock(e.time))
    if (e.type === 'outcome') {
      out.push(
        `  ${at}  ${style.dim(`#${e.seq}`)} outcome of command ${e.id ?? '?'} (its command record is not in this log): ${e.outcome?.status ?? '?'}`,
      )
      continue
    }
    if (e.type !== 'command') {
      out.push(`  ${at}  ${style.cyan(e.type)}${e.outcome?.error ? `  ${e.outcome.error}` : ''}`)
      continue
    }
    out.push(
      `  ${at}  ${style.dim(`#${e.seq}`)} ${e.resource ?? '?'}  ${e.action ?? ''}  ${oneLine(e.command ?? '')}`,
    )
    if (e.decision) {
      const color =
        e.decision.effect === 'allow' ? style.green : e.decision.effect === 'deny' ? style.red : style.yellow
      out.push(
        `${pad}decision ${color(e.decision.effect)} by ${e.decision.rule}${e.decision.reason ? `: ${e.decision.reason}` : ''}`,
      )
      for (const m of e.decision.shadow ?? [])
        out.push(
          `${pad}shadow   ${m.rule} would ${m.effect}${m.error ? ` (error: ${oneLine(m.error, 80)})` : ''}`,
        )
    }
    if (e.approval) {
      out.push(
        `${pad}approval ${e.approval.status}${e.approval.by ? ` by ${e.approval.by}` : ''}  ${style.dim(e.approval.id)}`,
      )
    }
    if (e.maskedCount > 0) {
      out.push(`${pad}masked   ${e.masked.map((m) => `${m.column} ×${m.count} (${m.strategy})`).join(', ')}`)
    }
    if (e.outcome) {
      const o = e.outcome
      const detail = [
        o.rows !== undefined ? `${o.rows} row${o.rows === 1 ? '' : 's'}` : '',
        o.exit !== undefined ? `exit ${o.exit}` : '',
        o.signal !== undefined ? `killed by ${o.signal}` : '',
        `${o.ms} ms`,
        o.code ?? '',
        // A denial's message repeats the decision line above.
        o.error && o.status !== 'denied' ? oneLine(o.error, 120) : '',
      ].filter(Boolean)
      out.push(`${pad}outcome  ${style[OUTCOME_COLOR[o.status]](o.status)}, ${detail.join(', ')}`)
    } else if (e.unknown) {
      out.push(
        `${pad}outcome  ${style.yellow('unknown (process ended)')}: it was sent, no outcome was recorded`,
      )
    }
    if (e.recording !== undefined) out.push(`${pad}recording ${e.recording}`)
  }
  return `${out.join('\n')}\n`
}

export function formatRepairs(replay: Replay, style: Style): string {
  const out: string[] = []
  for (const r of replay.repairs)
    out.push(
      `${style.yellow('repair')}  ${r.time}  #${r.seq}: a torn last line (${r.bytes} bytes, ${r.sha256}) was cut off when the log was reopened`,
    )
  if (replay.torn !== undefined)
    out.push(
      `${style.yellow('torn')}    ${replay.torn.file}:${replay.torn.line}: the last line (${replay.torn.chars} characters) is cut short: the writer stopped mid-record (a sink reopening the log repairs it)`,
    )
  return out.length === 0 ? '' : `${out.join('\n')}\n\n`
}

/**
 * Reads a log (segments in order) into per-session timelines: each command with its outcome record
 * joined in (`outcome.of` = the command's id), a command with no outcome as "unknown (process
 * ended)", repairs apart. Holds every event (replay prints them); `--session` keeps one session's.
 */
export async function buildReplay(
  files: string | readonly string[],
  onRecord: (count: number) => void,
  only?: string,
): Promise<Replay> {
  const sessions = new Map<string, SessionTimeline>()
  const running = new Map<string, TimelineEvent>()
  const replay: Replay = { sessions: [], repairs: [] }
  let count = 0
  const reading = readAuditFile(files, {
    onTorn: (file, line, chars) => (replay.torn = { file, line, chars }),
  })
  for await (const { record } of reading) {
    onRecord(++count)
    const type = (record.type ?? 'command') as string
    if (type === 'repair') {
      const t = (record as unknown as { truncated?: { bytes?: number; sha256?: string } }).truncated
      replay.repairs.push({
        seq: record.seq,
        time: record.time,
        bytes: t?.bytes ?? 0,
        sha256: t?.sha256 ?? '',
      })
      continue
    }
    if (only !== undefined && record.session !== only) continue
    let session = sessions.get(record.session)
    if (session === undefined) {
      session = {
        id: record.session,
        principal: record.principal,
        start: record.time,
        end: record.time,
        events: [],
        counts: { commands: 0, allow: 0, deny: 0, approve: 0, ok: 0, error: 0 },
      }
      sessions.set(record.session, session)
    }
    session.principal ??= record.principal
    session.end = record.time
    if (type === 'outcome') {
      const entry = record as unknown as OutcomeEntry
      const event = running.get(entry.of)
      if (event !== undefined) {
        running.delete(entry.of)
        joinOutcome(event, entry)
        countOutcome(session, event)
      } else {
        session.events.push({ ...toEvent(record), type: 'outcome', id: entry.of })
      }
      continue
    }
    const event = toEvent(record)
    session.events.push(event)
    if (event.type === 'command') {
      session.counts.commands++
      if (event.decision) session.counts[event.decision.effect]++
      // Written before the command ran: its outcome record follows (or never came).
      if (event.outcome === undefined && event.id !== undefined) running.set(event.id, event)
      else countOutcome(session, event)
    }
  }
  for (const event of running.values()) event.unknown = true
  replay.sessions.push(...sessions.values())
  return replay
}

function countOutcome(session: SessionTimeline, event: TimelineEvent): void {
  if (event.outcome?.status === 'ok') session.counts.ok++
  else if (event.outcome?.status === 'error') session.counts.error++
}

export async function buildTimelines(
  files: string | readonly string[],
  onRecord: (count: number) => void,
  only?: string,
): Promise<SessionTimeline[]> {
  return (await buildReplay(files, onRecord, only)).sessions
}

export const auditReplay: CommandSpec = {
  name: 'audit replay',
  summary: 'Print a readable timeline of sessions from an audit log',
  usage: 'audit replay <file...> [--session ID] [--json]',
  details: `
Shows, per session and in order: each command with its decision (effect, rule, reason),
the approval (status, reviewer), the values masked per column, and the outcome (status,
rows, exit status, time, error code), joined from its outcome record. A command whose
outcome record never arrived (the process ended while it ran) shows as
"outcome unknown (process ended)". Repairs of a torn log (a sink cut off a torn last line
when it reopened the log) are listed first, and so is a torn last line not repaired yet.
Several files are read as one log, in the order given (rotated segments oldest first).

Options:
  --session ID   only this session
  --json         machine-readable: {"sessions":[{id, principal, start, end, counts, events}],
                 "repairs":[{seq, time, bytes, sha256}], "torn"?: {file, line, chars}}

Exit codes: 0 printed, 1 no records for the session asked for, 2 unreadable file or bad usage.
`,
  options: { session: { type: 'string', short: 's' }, json: { type: 'boolean' } },
  async run(args, io) {
    const files = args.positionals
    if (files.length === 0) throw new UsageError('give the audit file (JSONL)')
    const only = stringOption(args, 'session')
    const progress = createProgress(io, 'reading audit records')
    let replay: Replay
    try {
      replay = await buildReplay(files, (n) => progress.tick(n), only)
    } finally {
      progress.done()
    }
    const timelines = replay.sessions
    const name = files.join(' ')
    if (only !== undefined && timelines.length === 0) {
      io.stderr.write(`no records for session ${only} in ${name}\n`)
      return 1
    }
    if (flag(args, 'json')) {
      io.stdout.write(`${JSON.stringify(replay, null, 2)}\n`)
      return 0
    }
    const style = createStyle(io.stdout, io.env)
    io.stdout.write(formatRepairs(replay, style))
    io.stdout.write(timelines.map((t) => formatTimeline(t, style)).join('\n'))
    if (timelines.length === 0) io.stdout.write(`${name}: no records\n`)
    return 0
  },
}
