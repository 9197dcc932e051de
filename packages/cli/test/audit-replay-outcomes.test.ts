// Write-ahead records in `warden audit replay` and `warden policy backtest`: a command record
// joined to its outcome record, a command whose outcome never came (the process ended), repair
// records and a torn last line.
import { readFileSync, writeFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sealRecord } from '../../core/src/internal/audit-chain.js'
import { RECORDED_POLICY, recordAuditLog } from './fixtures.js'
import { runWarden, SUBPROCESS_TIMEOUT, tempDir } from './helpers.js'

const tmp = tempDir('replay-outcomes')
const policy = tmp.write('policy.yaml', RECORDED_POLICY)
const log = `${tmp.dir}/audit.jsonl`
let records: Record<string, any>[]

/** Seals records into a chain from seq 1 (as a sink would have written them). */
function chain(recs: readonly Record<string, unknown>[]): string[] {
  let prev = `sha256:${'0'.repeat(64)}`
  return recs.map((r, i) => {
    const { hash, line } = sealRecord({ ...r, seq: i + 1, prev })
    prev = hash
    return line
  })
}

beforeAll(async () => {
  await recordAuditLog(log, policy)
  records = readFileSync(log, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l))
}, SUBPROCESS_TIMEOUT)
afterAll(() => tmp.remove())

describe('write-ahead records in replay and backtest', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('the recorded log has command records joined to outcome records by id', () => {
    const select = records.find((r) => r.type === 'command' && r.command?.startsWith('SELECT'))
    expect(select?.outcome).toBeUndefined()
    expect(records.find((r) => r.type === 'outcome' && r.of === select?.id)).toMatchObject({
      outcome: { status: 'ok' },
    })
  })

  it('replay: a command whose outcome never arrived shows "outcome unknown (process ended)"; repairs are listed', async () => {
    const select = records.find((r) => r.type === 'command' && r.command?.startsWith('SELECT')) as Record<
      string,
      any
    >
    // The process was killed while the SELECT ran: its outcome record was never written; the
    // next writer found a torn line and recorded the repair.
    const kept = records.filter((r) => !(r.type === 'outcome' && r.of === select.id))
    const repair = {
      v: 1,
      id: 'r1',
      time: '2026-12-04T05:00:00.000Z',
      session: 'sink',
      type: 'repair',
      truncated: { bytes: 41, sha256: `sha256:${'a'.repeat(64)}` },
    }
    const file = tmp.write('crashed.jsonl', `${chain([...kept, repair]).join('\n')}\n`)
    expect((await runWarden(['audit', 'verify', file])).code).toBe(0)
    const r = await runWarden(['audit', 'replay', file])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(
      /SELECT id, email FROM customers\n(.*\n)*? +outcome {2}unknown \(process ended\): it was sent, no outcome was recorded/,
    )
    expect(r.stdout).toMatch(
      /^repair {2}2026-12-04T05:00:00\.000Z {2}#\d+: a torn last line \(41 bytes, sha256:a{64}\) was cut off/m,
    )
    // The other commands still carry their joined outcomes; counts say 0 ok for the reader.
    expect(r.stdout).toContain('2 commands: 1 allowed, 0 held for approval, 1 denied; 0 ok, 0 failed')
    expect(r.stdout).toMatch(/outcome {2}denied, [\d.]+ ms, ERR_WARDEN_DENIED/)
    const json = JSON.parse((await runWarden(['audit', 'replay', '--json', file])).stdout)
    const event = json.sessions.flatMap((s: any) => s.events).find((e: any) => e.id === select.id)
    expect(event).toMatchObject({ unknown: true })
    expect(event.outcome).toBeUndefined()
    expect(json.repairs).toEqual([expect.objectContaining({ bytes: 41 })])
  })

  it('replay: a torn last line (not repaired yet) is shown, the records before it are replayed', async () => {
    const text = readFileSync(log, 'utf8')
    const file = `${tmp.dir}/torn.jsonl`
    writeFileSync(file, `${text}{"action":"sql.query","command":"UPDATE`)
    const r = await runWarden(['audit', 'replay', file])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^torn {4}.*torn\.jsonl:\d+: the last line \(\d+ characters\) is cut short/m)
    expect(r.stdout).toContain('SELECT id, email FROM customers')
    // A line that is not JSON in the middle is still an error.
    const middle = tmp.write('middle.jsonl', `{"v":1,\n${text}`)
    expect((await runWarden(['audit', 'replay', middle])).code).toBe(2)
  })

  it('replay reads rotated segments in order as one log', async () => {
    const lines = readFileSync(log, 'utf8').trimEnd().split('\n')
    const a = tmp.write('seg.jsonl.000001', `${lines.slice(0, 3).join('\n')}\n`)
    const b = tmp.write('seg.jsonl', `${lines.slice(3).join('\n')}\n`)
    const one = await runWarden(['audit', 'replay', '--json', log])
    const two = await runWarden(['audit', 'replay', '--json', a, b])
    expect(JSON.parse(two.stdout)).toEqual(JSON.parse(one.stdout))
  })

  it('backtest replays command records only: outcome and repair records are skipped', async () => {
    const repair = {
      v: 1,
      id: 'r1',
      time: '2026-12-04T05:00:00.000Z',
      session: 'sink',
      type: 'repair',
      truncated: { bytes: 3, sha256: `sha256:${'b'.repeat(64)}` },
    }
    const withRepair = tmp.write('backtest.jsonl', `${chain([...records, repair]).join('\n')}\n`)
    const r = await runWarden(['policy', 'backtest', '--json', '--audit', withRepair, policy])
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout)
    const commands = records.filter((c) => c.type === 'command')
    expect(records.some((c) => c.type === 'outcome')).toBe(true)
    expect(report).toMatchObject({
      replayed: commands.length,
      skipped: 0,
      unchanged: commands.length,
      changes: [],
    })
  })
})
