import { readFileSync } from 'node:fs'
import { afterAll, describe, expect, it } from 'vitest'
import { RECORDED_POLICY, recordAuditLog } from './fixtures.js'
import { runWarden, SUBPROCESS_TIMEOUT, tempDir } from './helpers.js'

const tmp = tempDir('policy')
afterAll(() => tmp.remove())

const GOOD = tmp.write('good.yaml', RECORDED_POLICY)
const TYPO = tmp.write(
  'typo.yaml',
  ['rules:', '  - name: readers', '    when: \'"readers" in principal.grups\'', '    effect: allow', ''].join(
    '\n',
  ),
)

describe('warden policy check', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('accepts a policy that loads and prints its revision', async () => {
    const r = await runWarden(['policy', 'check', GOOD])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/^ok {2}.*good\.yaml {2}revision sha256:[0-9a-f]{64}\n$/)
  })

  it('reports a field typo at file:line:col with a caret under it, exit 1', async () => {
    const r = await runWarden(['policy', 'check', TYPO])
    expect(r.code).toBe(1)
    const lines = r.stderr.split('\n')
    // The column points at "grups" in line 3.
    const column = readFileSync(TYPO, 'utf8').split('\n')[2].indexOf('grups') + 1
    expect(lines[0]).toContain(`typo.yaml:3:${column}: error ERR_POLICY_CEL_TYPE`)
    expect(lines[0]).toContain('grups')
    const source = lines.findIndex((l) => l.includes('when: \'"readers" in principal.grups\''))
    expect(source).toBeGreaterThan(0)
    const caretLine = lines[source + 1]
    const offset = lines[source].indexOf('grups')
    expect(caretLine[offset]).toBe('^')
    expect(r.stderr).toContain('1 error')
  })

  it('reports a YAML error and a missing file, exit 1', async () => {
    const yaml = tmp.write('broken.yaml', 'rules:\n  - name: [unclosed\n')
    const bad = await runWarden(['policy', 'check', yaml])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/broken\.yaml:\d+:\d+: error ERR_POLICY_YAML/)
    const missing = await runWarden(['policy', 'check', `${tmp.dir}/nope.yaml`])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('ERR_POLICY_IO')
  })

  it('needs a path (usage error, exit 2)', async () => {
    const r = await runWarden(['policy', 'check'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('Usage: warden policy check')
  })
})

describe('warden policy test', { timeout: SUBPROCESS_TIMEOUT }, () => {
  const passing = tmp.write(
    'pass_test.yaml',
    `
policies: [good.yaml]
principals:
  reader: { id: svc-reports, type: service, groups: [readers] }
tests:
  - name: readers select
    request: { principal: reader, resource: { kind: postgres, name: orders }, action: sql.query, sql: { types: [SELECT], parsed: true } }
    expect: { effect: allow, rule: readers-select }
`,
  )

  it('passes the example policies shipped in the repo', async () => {
    const r = await runWarden(['policy', 'test', 'examples/policies'])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/\d+ passed, 0 failed/)
  })

  it('exits 0 when every case passes', async () => {
    const r = await runWarden(['policy', 'test', passing])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('pass  readers select')
    expect(r.stdout).toContain('1 passed, 0 failed')
  })

  it('exits 1 on a failing case and shows expected vs actual', async () => {
    const failing = tmp.write(
      'fail_test.yaml',
      readFileSync(passing, 'utf8').replace('effect: allow, rule: readers-select', 'effect: deny'),
    )
    const r = await runWarden(['policy', 'test', failing])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('FAIL  readers select')
    expect(r.stdout).toMatch(/- .*deny/)
    expect(r.stdout).toMatch(/\+ .*allow/)
    expect(r.stdout).toContain('0 passed, 1 failed')
  })

  it('exits 2 when a test file does not load', async () => {
    const broken = tmp.write(
      'broken_test.yaml',
      'tests:\n  - name: x\n    request: {}\n    expect: { effect: maybe }\n',
    )
    const r = await runWarden(['policy', 'test', broken])
    expect(r.code).toBe(2)
    expect(r.stdout).toContain('ERROR')
    expect(r.stdout).toMatch(/broken_test\.yaml:4:\d+: error ERR_POLICY_TEST/)
  })

  it('exits 2 when the path holds no test file', async () => {
    const r = await runWarden(['policy', 'test', `${tmp.dir}/missing`])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('ERR_POLICY_IO')
  })
})

describe('warden policy eval', { timeout: SUBPROCESS_TIMEOUT }, () => {
  const agentWrite = JSON.stringify({
    principal: { id: 'agent-7', type: 'agent' },
    resource: { kind: 'postgres', name: 'orders' },
    action: 'sql.query',
    sql: { types: ['UPDATE'], write: true, parsed: true },
  })

  it('prints the decision, the approval and the matched rules', async () => {
    const r = await runWarden(['policy', 'eval', '--request', agentWrite, GOOD])
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/effect +approve/)
    expect(r.stdout).toMatch(/rule +agent-writes/)
    expect(r.stdout).toMatch(/approval +by dba, timeout 1m/)
    expect(r.stdout).toMatch(/mask +pii \(redact: email\)/)
    expect(r.stdout).toMatch(/matched\s*\n\s+agent-writes +approve/)
  })

  it('prints JSON with --json, reading the request from a file', async () => {
    const file = tmp.write('request.json', agentWrite)
    const r = await runWarden(['policy', 'eval', '--json', '--request', `@${file}`, GOOD])
    expect(r.code).toBe(0)
    const decision = JSON.parse(r.stdout)
    expect(decision).toMatchObject({
      effect: 'approve',
      rule: 'agent-writes',
      approval: { approvers: ['dba'], timeout: 60_000 },
    })
    expect(decision.matched).toEqual([{ rule: 'agent-writes', effect: 'approve', shadow: false }])
  })

  it('explains the default when nothing matches', async () => {
    const r = await runWarden(
      ['policy', 'eval', '--request', '@-', GOOD],
      {},
      '{"principal":{"id":"x","type":"user"}}',
    )
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/effect +deny/)
    expect(r.stdout).toMatch(/rule +default/)
    expect(r.stdout).toContain('no rule (default applied)')
  })

  it('rejects bad JSON, a non-object, a bad timestamp and a missing --request with exit 2', async () => {
    const bad = await runWarden(['policy', 'eval', '--request', '{nope', GOOD])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--request is not valid JSON')
    const array = await runWarden(['policy', 'eval', '--request', '[1]', GOOD])
    expect(array.code).toBe(2)
    expect(array.stderr).toContain('request must be a JSON object')
    const time = await runWarden(['policy', 'eval', '--request', '{"now":"yesterday"}', GOOD])
    expect(time.code).toBe(2)
    expect(time.stderr).toContain('"now" is not a timestamp')
    const missing = await runWarden(['policy', 'eval', GOOD])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('missing --request')
  })

  it('exits 2 with the located error when the policy does not load', async () => {
    const r = await runWarden(['policy', 'eval', '--request', '{}', TYPO])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('typo.yaml:3:')
  })
})

describe('warden policy backtest', { timeout: SUBPROCESS_TIMEOUT }, () => {
  const candidate = tmp.write(
    'candidate.yaml',
    RECORDED_POLICY.replace(
      `when: '"readers" in principal.groups && !sql.write'`,
      `when: '"readers" in principal.groups && !sql.write && !("customers" in sql.tables)'`,
    ).replace('effect: approve', 'effect: allow'),
  )

  it('reports every changed decision with counts per transition, exit 1', async () => {
    const log = `${tmp.dir}/backtest.jsonl`
    await recordAuditLog(log, GOOD)
    const r = await runWarden(['policy', 'backtest', '--audit', log, candidate])
    expect(r.code).toBe(1)
    expect(r.stdout).toContain('SELECT id, email FROM customers')
    expect(r.stdout).toContain('allow (readers-select) → deny (default)')
    expect(r.stdout).toContain('UPDATE orders SET status = 2 WHERE id = 7')
    expect(r.stdout).toContain('approve (agent-writes) → allow (agent-writes)')
    expect(r.stdout).toContain('2 decisions would change of 3 replayed (1 unchanged')
    expect(r.stdout).toMatch(/allow→deny +1/)
    expect(r.stdout).toMatch(/approve→allow +1/)

    const json = await runWarden(['policy', 'backtest', '--json', '--audit', log, candidate])
    expect(json.code).toBe(1)
    const report = JSON.parse(json.stdout)
    expect(report).toMatchObject({
      replayed: 3,
      skipped: 0,
      unchanged: 1,
      transitions: { 'allow→deny': 1, 'approve→allow': 1 },
    })
    expect(report.changes.map((c: { seq: number }) => c.seq)).toHaveLength(2)
  })

  it('exits 0 when the candidate decides everything the same', async () => {
    const log = `${tmp.dir}/same.jsonl`
    await recordAuditLog(log, GOOD)
    const r = await runWarden(['policy', 'backtest', '--audit', log, GOOD])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('0 decisions would change of 3 replayed (3 unchanged')
  })

  it('counts command records without a replayable request as skipped', async () => {
    const log = `${tmp.dir}/old.jsonl`
    await recordAuditLog(log, GOOD)
    const stripped = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => {
        const record = JSON.parse(line)
        if (record.type === 'command' && record.command.startsWith('SELECT')) delete record.request
        return JSON.stringify(record)
      })
    const old = tmp.write('old-stripped.jsonl', `${stripped.join('\n')}\n`)
    const r = await runWarden(['policy', 'backtest', '--json', '--audit', old, candidate])
    const report = JSON.parse(r.stdout)
    expect(report).toMatchObject({ replayed: 2, skipped: 1, transitions: { 'approve→allow': 1 } })
    expect(r.code).toBe(1)
  })

  it('exits 2 for an unreadable log, a corrupt line, or a candidate that does not load', async () => {
    const missing = await runWarden(['policy', 'backtest', '--audit', `${tmp.dir}/none.jsonl`, GOOD])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('cannot read audit file')
    const corrupt = tmp.write('corrupt.jsonl', '{"v":1,"seq":1}\nnot json\n')
    const bad = await runWarden(['policy', 'backtest', '--audit', corrupt, GOOD])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('corrupt.jsonl:2: not a JSON audit record')
    const log = `${tmp.dir}/typo-candidate.jsonl`
    await recordAuditLog(log, GOOD)
    const typo = await runWarden(['policy', 'backtest', '--audit', log, TYPO])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain('the candidate policy does not load')
  })
})
