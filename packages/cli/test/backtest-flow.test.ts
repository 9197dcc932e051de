// Backtests replay data-flow rules exactly: each audit record carries the flow facts its command
// was decided with (what the causal chain had read and been tagged with before it).
import { readFileSync } from 'node:fs'
import { createWarden, jsonlSink } from '@warden/core'
import { loadPolicy } from '@warden/policy'
import { afterAll, describe, expect, it } from 'vitest'
import { sqlCommand } from './fixtures.js'
import { runWarden, SUBPROCESS_TIMEOUT, tempDir } from './helpers.js'

const tmp = tempDir('backtest-flow')
afterAll(() => tmp.remove())

const RECORDED = tmp.write(
  'recorded.yaml',
  `
rules:
  - name: readers
    when: '"readers" in principal.groups'
    effect: allow
`,
)
const CANDIDATE = tmp.write(
  'candidate.yaml',
  `
rules:
  - name: no-writes-after-customers
    when: 'sql.write && flow.reads.exists(r, r.endsWith("/customers"))'
    effect: deny
    reason: no writes once customer data was read in this run
  - name: readers
    when: '"readers" in principal.groups'
    effect: allow
`,
)

describe('warden policy backtest with flow rules', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('records flow facts and replays them: only the write after the customers read changes', async () => {
    const log = `${tmp.dir}/flow.jsonl`
    const warden = createWarden({ policy: await loadPolicy(RECORDED), audit: jsonlSink(log) })
    const session = await warden.session({
      principal: { id: 'svc-etl', type: 'service', groups: ['readers'] },
    })
    // A write in a fresh run (nothing read before it), then a run that reads customers and writes.
    await session.run(async () =>
      session.execute(await sqlCommand('UPDATE orders SET status = 1 WHERE id = 1'), () => 1),
    )
    await session.run(async () => {
      await session.execute(await sqlCommand('SELECT id FROM customers'), () => [])
      await session.execute(await sqlCommand('UPDATE orders SET status = 2 WHERE id = 2'), () => 1)
    })
    await warden.close()

    const records = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line))
    const second = records.find((r) => r.command === 'UPDATE orders SET status = 2 WHERE id = 2')
    expect(second.request.flow).toEqual({
      reads: expect.arrayContaining(['postgres:orders-prod/customers']),
      tags: [],
    })
    const first = records.find((r) => r.command === 'UPDATE orders SET status = 1 WHERE id = 1')
    expect(first.request.flow).toBeUndefined()

    const r = await runWarden(['policy', 'backtest', '--json', '--audit', log, CANDIDATE])
    expect(r.code).toBe(1)
    const report = JSON.parse(r.stdout)
    expect(report).toMatchObject({ replayed: 3, skipped: 0, unchanged: 2, transitions: { 'allow→deny': 1 } })
    expect(report.changes).toHaveLength(1)
    expect(JSON.stringify(report.changes[0])).toContain('UPDATE orders SET status = 2 WHERE id = 2')
  })
})
