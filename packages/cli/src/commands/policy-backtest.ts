import type { Decision, Effect, Policy } from '@warden/policy'
import { flag, requireOption, UsageError } from '../internal/args.js'
import { readAuditFile } from '../internal/audit-file.js'
import { CliError } from '../internal/cli-error.js'
import type { CommandSpec } from '../internal/command.js'
import { createProgress, createStyle } from '../internal/io.js'
import { loadPolicyArgs } from '../internal/policy-args.js'
import { formatPolicyError, isPolicyError, policyErrors } from '../internal/policy-error-format.js'
import { replayRequest, replaySessions } from '../internal/replay-request.js'
import { STDIN } from '../internal/stdin.js'
import { paintEffect } from './policy-eval.js'

export interface BacktestChange {
  readonly seq: number
  readonly time: string
  readonly session: string
  readonly principal: string
  readonly resource: string
  readonly action: string
  readonly command: string
  readonly before: { readonly effect: Effect; readonly rule: string }
  readonly after: { readonly effect: Effect; readonly rule: string; readonly reason: string }
}

export interface BacktestReport {
  readonly candidate: string
  /** Command records whose request was replayed. */
  readonly replayed: number
  /** Command records that carry no replayable `request` (older writers). */
  readonly skipped: number
  readonly unchanged: number
  /** Same effect, decided by a different rule. */
  readonly ruleChanged: number
  /** `before→after` → count, e.g. `allow→deny`. */
  readonly transitions: Record<string, number>
  readonly changes: readonly BacktestChange[]
}

export const policyBacktest: CommandSpec = {
  name: 'policy backtest',
  summary: 'Replay the requests recorded in an audit log against a candidate policy; report what changes',
  usage: 'policy backtest --audit <file> [--json] <candidate-policy>...',
  details: `
Every command record in the audit log carries the request its decision was made on
(principal with claims, resource with labels, the command's facts). Each is decided again
by the candidate policy, at its recorded time, with its session's start and command count,
and the flow facts (reads and tags of its causal chain) it was decided with, and compared
with the recorded effect. Every decision that would change (allow→deny, approve→allow, ...)
is listed, followed by counts per transition. Only command records are replayed (they are
written before a command runs, with everything its decision saw); outcome records (how a
command ended), repair and session records are skipped.

Options:
  --audit <file>   the JSONL audit log (as written by jsonlSink)
  --json           the report as JSON

Exit codes: 0 no decision changes, 1 some decisions change, 2 bad usage, unreadable log,
or the candidate policy does not load.
`,
  options: { audit: { type: 'string', short: 'a' }, json: { type: 'boolean' } },
  async run(args, io) {
    const file = requireOption(args, 'audit')
    if (args.positionals.length === 0) throw new UsageError('give the candidate policy file(s) or folder')
    if (file === STDIN && args.positionals.includes(STDIN))
      throw new UsageError('stdin ("-") can carry the audit log or the candidate policy, not both')
    const errStyle = createStyle(io.stderr, io.env)
    let policy: Policy
    try {
      policy = await loadPolicyArgs(args.positionals)
    } catch (error) {
      if (!isPolicyError(error)) throw error
      for (const e of policyErrors(error)) io.stderr.write(`${formatPolicyError(e, errStyle, io.cwd)}\n`)
      io.stderr.write('the candidate policy does not load\n')
      return 2
    }

    const progress = createProgress(io, 'replaying requests')
    const transitions: Record<string, number> = {}
    const changes: BacktestChange[] = []
    let replayed = 0
    let skipped = 0
    let unchanged = 0
    let ruleChanged = 0
    let count = 0
    const sessions = replaySessions()
    try {
      for await (const { file: at, line, record } of readAuditFile(file)) {
        progress.tick(++count, `records, ${changes.length} changed`)
        const request = replayRequest(record, sessions, `${at}:${line}`)
        // Command records hold everything the policy saw (written before the command ran);
        // outcome, repair and session records carry no decision to replay.
        if ((record.type ?? 'command') !== 'command') continue
        const recorded = record.decision
        if (request === undefined || recorded === undefined) {
          skipped++
          continue
        }
        let decision: Decision
        try {
          decision = policy.decide(request)
        } catch (error) {
          throw new CliError(
            `${file}:${line}: the candidate policy could not decide: ${(error as Error).message}`,
            2,
          )
        }
        replayed++
        if (decision.effect === recorded.effect) {
          if (decision.rule === recorded.rule) unchanged++
          else ruleChanged++
          continue
        }
        const key = `${recorded.effect}→${decision.effect}`
        transitions[key] = (transitions[key] ?? 0) + 1
        changes.push({
          seq: record.seq,
          time: record.time,
          session: record.session,
          principal: record.principal.id,
          resource: record.resource ? `${record.resource.kind}:${record.resource.name}` : '',
          action: record.action ?? '',
          command: record.command ?? '',
          before: { effect: recorded.effect, rule: recorded.rule },
          after: { effect: decision.effect, rule: decision.rule, reason: decision.reason },
        })
      }
    } finally {
      progress.done()
    }

    const report: BacktestReport = {
      candidate: policy.revision,
      replayed,
      skipped,
      unchanged,
      ruleChanged,
      transitions,
      changes,
    }
    if (flag(args, 'json')) {
      io.stdout.write(`${JSON.stringify(report, null, 2)}\n`)
    } else {
      const s = createStyle(io.stdout, io.env)
      for (const c of changes) {
        const command = c.command.replace(/\s+/g, ' ').trim()
        io.stdout.write(
          `${s.dim(`#${c.seq}`)} ${s.dim(c.time)}  ${c.principal}  ${c.resource}  ${c.action}  ${command.length > 120 ? `${command.slice(0, 119)}…` : command}\n` +
            `    ${paintEffect(s, c.before.effect)} (${c.before.rule}) → ${paintEffect(s, c.after.effect)} (${c.after.rule})` +
            `${c.after.reason ? `: ${c.after.reason}` : ''}\n`,
        )
      }
      if (changes.length > 0) io.stdout.write('\n')
      io.stdout.write(
        `${s.bold(`${changes.length} decision${changes.length === 1 ? '' : 's'} would change`)} ` +
          `of ${replayed} replayed (${unchanged} unchanged, ${ruleChanged} same effect by another rule` +
          `${skipped ? `, ${skipped} skipped: no recorded request` : ''})\n`,
      )
      for (const [key, n] of Object.entries(transitions).sort((a, b) => b[1] - a[1])) {
        io.stdout.write(`  ${key.padEnd(18)} ${n}\n`)
      }
      io.stdout.write(`${s.dim(`candidate revision ${policy.revision}`)}\n`)
    }
    return changes.length > 0 ? 1 : 0
  },
}
