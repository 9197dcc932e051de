import type { AuditRecord } from '@warden/core'
import { flag, stringOption, UsageError } from '../internal/args.js'
import { readAuditFile } from '../internal/audit-file.js'
import type { CommandSpec } from '../internal/command.js'
import { createProgress, createStyle, type Style } from '../internal/io.js'

export interface TimelineEvent {
  readonly seq: number
  readonly time: string
  readonly type: NonNullable<AuditRecord['type']>
  readonly resource?: string
  readonly action?: string
  readonly command?: string
  readonly decision?: AuditRecord['decision']
  readonly approval?: AuditRecord['approval']
  readonly masked: NonNullable<AuditRecord['masked']>
  /** Total values masked in this command. */
  readonly maskedCount: number
  readonly outcome?: AuditRecord['outcome']
}

export interface SessionTimeline {
  readonly id: string
  readonly principal: AuditRecord['principal']
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
    ...(record.resource ? { resource: `${record.resource.kind}:${record.resource.name}` } : {}),
    ...(record.action ? { action: record.action } : {}),
    ...(record.command !== undefined ? { command: record.command } : {}),
    ...(record.decision ? { decision: record.decision } : {}),
    ...(record.approval ? { approval: record.approval } : {}),
    masked,
    maskedCount: masked.reduce((n, m) => n + m.count, 0),
    ...(record.outcome ? { outcome: record.outcome } : {}),
  }
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
    `  principal ${p.id}${p.type ? ` (${p.type})` : ''}${p.groups.length ? `  groups ${p.groups.join(', ')}` : ''}`,
    `  ${session.start} → ${session.end}   ${c.commands} command${c.commands === 1 ? '' : 's'}: ` +
      `${c.allow} allowed, ${c.approve} held for approval, ${c.deny} denied; ${c.ok} ok, ${c.error} failed`,
    '',
  ]
  const pad = ' '.repeat(14)
  for (const e of session.events) {
    const at = style.dim(clock(e.time))
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
    }
  }
  return `${out.join('\n')}\n`
}

export async function buildTimelines(
  file: string,
  onRecord: (count: number) => void,
  only?: string,
): Promise<SessionTimeline[]> {
  const sessions = new Map<string, SessionTimeline>()
  let count = 0
  for await (const { record } of readAuditFile(file)) {
    onRecord(++count)
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
    session.end = record.time
    const event = toEvent(record)
    session.events.push(event)
    if (event.type === 'command') {
      session.counts.commands++
      if (event.decision) session.counts[event.decision.effect]++
      if (event.outcome?.status === 'ok') session.counts.ok++
      else if (event.outcome?.status === 'error') session.counts.error++
    }
  }
  return [...sessions.values()]
}

export const auditReplay: CommandSpec = {
  name: 'audit replay',
  summary: 'Print a readable timeline of sessions from an audit log',
  usage: 'audit replay <file> [--session ID] [--json]',
  details: `
Shows, per session and in order: each command with its decision (effect, rule, reason),
the approval (status, reviewer), the values masked per column, and the outcome (status,
rows, exit status, time, error code).

Options:
  --session ID   only this session
  --json         machine-readable: {"sessions":[{id, principal, start, end, counts, events}]}

Exit codes: 0 printed, 1 no records for the session asked for, 2 unreadable file or bad usage.
`,
  options: { session: { type: 'string', short: 's' }, json: { type: 'boolean' } },
  async run(args, io) {
    const [file, ...extra] = args.positionals
    if (file === undefined) throw new UsageError('give the audit file (JSONL)')
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`)
    const only = stringOption(args, 'session')
    const progress = createProgress(io, 'reading audit records')
    let timelines: SessionTimeline[]
    try {
      timelines = await buildTimelines(file, (n) => progress.tick(n), only)
    } finally {
      progress.done()
    }
    if (only !== undefined && timelines.length === 0) {
      io.stderr.write(`no records for session ${only} in ${file}\n`)
      return 1
    }
    if (flag(args, 'json')) {
      io.stdout.write(`${JSON.stringify({ sessions: timelines }, null, 2)}\n`)
      return 0
    }
    const style = createStyle(io.stdout, io.env)
    io.stdout.write(timelines.map((t) => formatTimeline(t, style)).join('\n'))
    if (timelines.length === 0) io.stdout.write(`${file}: no records\n`)
    return 0
  },
}
