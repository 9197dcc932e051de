import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { formatTimeline } from '../src/commands/audit-replay.js'
import { createStyle } from '../src/internal/io.js'
import { RECORDED_POLICY, type RecordedLog, recordAuditLog } from './fixtures.js'
import { runWarden, SUBPROCESS_TIMEOUT, tempDir } from './helpers.js'

const tmp = tempDir('audit')
const policy = tmp.write('policy.yaml', RECORDED_POLICY)
const log = `${tmp.dir}/audit.jsonl`
let sessions: RecordedLog

beforeAll(async () => {
  sessions = await recordAuditLog(log, policy)
})
afterAll(() => tmp.remove())

const lineCount = (path: string) => readFileSync(path, 'utf8').trimEnd().split('\n').length

function tampered(name: string, edit: (records: Record<string, any>[]) => Record<string, any>[]): string {
  const records = readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  return tmp.write(
    name,
    `${edit(records)
      .map((r) => JSON.stringify(r))
      .join('\n')}\n`,
  )
}

describe('warden audit verify', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('reports an intact chain with its head, exit 0', async () => {
    const r = await runWarden(['audit', 'verify', log])
    expect(r.code).toBe(0)
    const n = lineCount(log)
    expect(r.stdout).toMatch(
      new RegExp(`^ok {2}.*audit\\.jsonl: ${n} records, chain intact, head seq ${n} sha256:[0-9a-f]{64}\n$`),
    )
  })

  it('names the first bad seq of an edited record, exit 1', async () => {
    const edited = tampered('edited.jsonl', (records) => {
      const select = records.find((r) => r.command?.startsWith('SELECT'))
      if (select === undefined) throw new Error('fixture has no SELECT record')
      select.command = 'SELECT 1'
      return records
    })
    const r = await runWarden(['audit', 'verify', edited])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/edited\.jsonl:2: seq 2: edited: hash does not match the record \(edited\)/)
    const json = await runWarden(['audit', 'verify', '--json', edited])
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, seq: 2, line: 2, count: 1, code: 'edited' })
  })

  it('detects a removed record', async () => {
    const removed = tampered('removed.jsonl', (records) => records.filter((r) => r.seq !== 3))
    const r = await runWarden(['audit', 'verify', removed])
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/removed\.jsonl:3: seq 4: record missing: seq 3 is missing/)
  })

  it('exits 2 for a missing file or a missing argument', async () => {
    const missing = await runWarden(['audit', 'verify', `${tmp.dir}/nope.jsonl`])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('cannot read audit file')
    const usage = await runWarden(['audit', 'verify'])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain('give the audit file')
  })
})

describe('warden audit replay', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('prints each session: decisions, approvals, masked counts and outcomes', async () => {
    const r = await runWarden(['audit', 'replay', log])
    expect(r.code).toBe(0)
    const out = r.stdout
    expect(out).toContain(`session ${sessions.reader}`)
    expect(out).toContain(`session ${sessions.agent}`)
    expect(out).toContain('principal svc-reports (service)  groups readers')
    expect(out).toContain('2 commands: 1 allowed, 0 held for approval, 1 denied; 1 ok, 0 failed')
    expect(out).toMatch(/#2 postgres:orders-prod {2}sql\.query {2}SELECT id, email FROM customers/)
    expect(out).toContain('decision allow by readers-select')
    expect(out).toContain('masked   email ×2 (redact)')
    expect(out).toMatch(/outcome {2}ok, 2 rows, [\d.]+ ms/)
    expect(out).toContain('decision deny by destructive-sql: unbounded writes are blocked')
    expect(out).toMatch(/outcome {2}denied, [\d.]+ ms, ERR_WARDEN_DENIED/)
    expect(out).toContain('decision approve by agent-writes: agents need a human for writes')
    expect(out).toMatch(/approval approved by alice/)
    // Sessions in order, each opened and closed.
    expect(out.indexOf(`session ${sessions.reader}`)).toBeLessThan(out.indexOf(`session ${sessions.agent}`))
    expect(out.match(/session\.open/g)).toHaveLength(2)
    expect(out.match(/session\.close/g)).toHaveLength(2)
  })

  it('filters one session', async () => {
    const r = await runWarden(['audit', 'replay', log, '--session', sessions.agent])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('UPDATE orders SET status = 2 WHERE id = 7')
    expect(r.stdout).not.toContain('SELECT id, email FROM customers')
    expect(r.stdout).not.toContain(sessions.reader)
  })

  it('prints machine-readable JSON with --json', async () => {
    const r = await runWarden(['audit', 'replay', log, '--json', '--session', sessions.reader])
    expect(r.code).toBe(0)
    const { sessions: list } = JSON.parse(r.stdout)
    expect(list).toHaveLength(1)
    const [session] = list
    expect(session).toMatchObject({
      id: sessions.reader,
      principal: { id: 'svc-reports', type: 'service', groups: ['readers'] },
      counts: { commands: 2, allow: 1, deny: 1, approve: 0, ok: 1, error: 0 },
    })
    expect(session.events.map((e: { type: string }) => e.type)).toEqual([
      'session.open',
      'command',
      'command',
      'session.close',
    ])
    const select = session.events[1]
    expect(select).toMatchObject({
      seq: 2,
      resource: 'postgres:orders-prod',
      action: 'sql.query',
      decision: { effect: 'allow', rule: 'readers-select' },
      masked: [{ column: 'email', strategy: 'redact', count: 2 }],
      maskedCount: 2,
      outcome: { status: 'ok', rows: 2 },
    })
    expect(session.events[2]).toMatchObject({ outcome: { status: 'denied', code: 'ERR_WARDEN_DENIED' } })
  })

  it('shows how a remote process ended (exit status or signal) and what shadow rules would have done', () => {
    const command = (seq: number, text: string, outcome: object) => ({
      seq,
      time: '2026-11-26T10:00:00.000Z',
      type: 'command' as const,
      resource: 'ssh:web-1',
      action: 'ssh.exec',
      command: text,
      decision: { effect: 'allow' as const, rule: 'ops', reason: '', revision: 'r' },
      masked: [],
      maskedCount: 0,
      outcome: { status: 'ok' as const, ms: 5, ...outcome },
    })
    const out = formatTimeline(
      {
        id: 's1',
        principal: { id: 'ci', type: 'service', groups: [] },
        start: '2026-11-26T10:00:00.000Z',
        end: '2026-11-26T10:00:01.000Z',
        events: [
          command(1, 'make test', { exit: 2 }),
          {
            ...command(2, 'sleep 30', { signal: 'SIGTERM' }),
            decision: {
              effect: 'allow' as const,
              rule: 'ops',
              reason: '',
              revision: 'r',
              shadow: [{ rule: 'trial-no-sleep', effect: 'deny' as const }],
            },
          },
        ],
        counts: { commands: 2, allow: 2, deny: 0, approve: 0, ok: 2, error: 0 },
      },
      createStyle({ isTTY: false } as never, {}),
    )
    expect(out).toMatch(/make test\n.*\n\s+outcome {2}ok, exit 2, 5 ms/)
    expect(out).toMatch(
      /sleep 30\n.*\n\s+shadow {3}trial-no-sleep would deny\n\s+outcome {2}ok, killed by SIGTERM, 5 ms/,
    )
  })

  it('exits 1 for a session that is not in the log', async () => {
    const r = await runWarden(['audit', 'replay', log, '--session', 'no-such-session'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('no records for session no-such-session')
  })

  it('exits 2 for a corrupt line, naming it', async () => {
    const corrupt = tmp.write('corrupt.jsonl', `${readFileSync(log, 'utf8')}{"v":2}\n`)
    const r = await runWarden(['audit', 'replay', corrupt])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain(`corrupt.jsonl:${lineCount(log) + 1}: not a version 1 audit record`)
  })
})
