// Issue 21 part 5: suggestions, unknown options in Warden's words, every error from policy check
// (--json, warnings), stdin as "-", audit records as requests, unknown request fields refused.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RECORDED_POLICY, recordAuditLog } from './fixtures.js'
import { runWarden, SUBPROCESS_TIMEOUT, tempDir } from './helpers.js'

const tmp = tempDir('input')
afterAll(() => tmp.remove())
const GOOD = tmp.write('good.yaml', RECORDED_POLICY)
const BROKEN = tmp.write(
  'broken.yaml',
  `rules:
  - name: a
    when: 'principal.grups == "x"'
    effect: allow
  - name: b
    when: 'sql.write &&'
    effect: deny
  - name: c
    effect: approve
    approval: { timeout: soon }
`,
)
const TYPO_ENUM = tmp.write(
  'enum.yaml',
  `rules:
  - name: agents
    when: 'principal.type == "agnet"'
    effect: allow
`,
)

describe('suggestions and unknown options', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('suggests the command meant by a typo, exit 2', async () => {
    const sub = await runWarden(['policy', 'chek', GOOD])
    expect(sub.code).toBe(2)
    expect(sub.stderr).toContain('unknown command "policy chek" (did you mean "warden policy check"?)')
    const group = await runWarden(['polcy', 'eval'])
    expect(group.stderr).toContain('(did you mean "warden policy eval"?)')
    const single = await runWarden(['descibe', '--sql', 'SELECT 1'])
    expect(single.stderr).toContain('(did you mean "warden describe"?)')
    const far = await runWarden(['frobnicate'])
    expect(far.code).toBe(2)
    expect(far.stderr).toContain('unknown command "frobnicate"\n')
  })

  it('reports an unknown option in its own words with the nearest option', async () => {
    const r = await runWarden(['policy', 'eval', '--reqest', '{}', GOOD])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('error: unknown option --reqest (did you mean --request?)')
    expect(r.stderr).not.toContain('Unknown option')
    expect(r.stderr).toContain('Usage: warden policy eval')
    const value = await runWarden(['policy', 'eval', GOOD, '--request'])
    expect(value.stderr).toContain('error: option --request needs a value')
    const sw = await runWarden(['policy', 'check', '--json=yes', GOOD])
    expect(sw.stderr).toContain('error: option --json is a switch and takes no value')
  })
})

describe('warden policy check: every error, --json, warnings, stdin', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('prints every error of the set, not only the first, exit 1', async () => {
    const r = await runWarden(['policy', 'check', BROKEN])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/broken\.yaml:3:\d+: error ERR_POLICY_CEL_TYPE/)
    expect(r.stderr).toMatch(/broken\.yaml:6:\d+: error ERR_POLICY_CEL_SYNTAX/)
    expect(r.stderr).toMatch(/broken\.yaml:10:\d+: error ERR_POLICY_DURATION/)
    expect(r.stderr).toContain('3 errors')
  })

  it('--json lists errors and warnings with code, message and position', async () => {
    const bad = await runWarden(['policy', 'check', '--json', BROKEN])
    expect(bad.code).toBe(1)
    const result = JSON.parse(bad.stdout)
    expect(result.ok).toBe(false)
    expect(result.errors.map((e: { code: string; line: number }) => [e.code, e.line])).toEqual([
      ['ERR_POLICY_CEL_TYPE', 3],
      ['ERR_POLICY_CEL_SYNTAX', 6],
      ['ERR_POLICY_DURATION', 10],
    ])
    const good = JSON.parse((await runWarden(['policy', 'check', '--json', GOOD])).stdout)
    expect(good).toMatchObject({
      ok: true,
      errors: [],
      warnings: [],
      revision: expect.stringMatching(/^sha256:/),
    })
  })

  it('warns about an enum literal that cannot match, with the allowed values; --strict fails on it', async () => {
    const r = await runWarden(['policy', 'check', TYPO_ENUM])
    expect(r.code).toBe(0)
    expect(r.stderr).toContain('enum.yaml:3:30: warning WARN_POLICY_ENUM_LITERAL')
    expect(r.stderr).toContain('principal.type is one of service, agent, workload, user')
    expect(r.stdout).toContain('1 warning')
    const strict = await runWarden(['policy', 'check', '--strict', TYPO_ENUM])
    expect(strict.code).toBe(1)
    const json = JSON.parse((await runWarden(['policy', 'check', '--json', TYPO_ENUM])).stdout)
    expect(json.warnings).toEqual([
      expect.objectContaining({
        code: 'WARN_POLICY_ENUM_LITERAL',
        line: 3,
        column: 30,
        path: 'rules[0].when',
      }),
    ])
  })

  it('reads a policy from stdin with "-"', async () => {
    const ok = await runWarden(['policy', 'check', '-'], {}, RECORDED_POLICY)
    expect(ok.code).toBe(0)
    const bad = await runWarden(['policy', 'check', '-'], {}, readFileSync(BROKEN, 'utf8'))
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain('<stdin>:6:')
  })
})

describe('requests: stdin, audit records, unknown fields', { timeout: SUBPROCESS_TIMEOUT }, () => {
  const LOG = join(tmp.dir, 'audit.jsonl')
  let lines: string[]
  beforeAll(async () => {
    await recordAuditLog(LOG, GOOD)
    lines = readFileSync(LOG, 'utf8').trimEnd().split('\n')
  })
  const commandLine = (text: string) =>
    lines.find((l) => {
      const r = JSON.parse(l)
      return r.type === 'command' && r.command === text
    }) ?? ''

  it('policy eval takes a command record of the audit log as the request (also from stdin)', async () => {
    const record = commandLine('DELETE FROM orders')
    const inline = await runWarden(['policy', 'eval', '--json', '--request', record, GOOD])
    expect(inline.code).toBe(0)
    expect(JSON.parse(inline.stdout)).toMatchObject({ effect: 'deny', rule: 'destructive-sql' })
    const piped = await runWarden(['policy', 'eval', '--json', '--request', '-', GOOD], {}, `${record}\n`)
    expect(JSON.parse(piped.stdout)).toMatchObject({ effect: 'deny', rule: 'destructive-sql' })
    const file = tmp.write('record.json', commandLine('SELECT id, email FROM customers'))
    const fromFile = await runWarden(['policy', 'eval', '--json', '--request', file, GOOD])
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ effect: 'allow', rule: 'readers-select' })
    const session = await runWarden(['policy', 'eval', '--request', lines[0], GOOD])
    expect(session.code).toBe(2)
    expect(session.stderr).toContain('is a "session.open" record; give a command record')
  })

  it('policy eval refuses request fields the model does not have, with the nearest field', async () => {
    const r = await runWarden([
      'policy',
      'eval',
      '--request',
      '{"principal":{"id":"a","typ":"agent"},"action":"sql.query"}',
      GOOD,
    ])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('the request has field the request model does not: "principal.typ"')
    expect(r.stderr).toContain('(did you mean "principal.type"?)')
    const top = await runWarden(['policy', 'eval', '--request', '{"sqll":{}}', GOOD])
    expect(top.stderr).toContain('"sqll" (did you mean "sql"?)')
  })

  it('audit verify -, audit replay - and policy backtest (log or candidate) read stdin', async () => {
    const text = readFileSync(LOG, 'utf8')
    const verify = await runWarden(['audit', 'verify', '-'], {}, text)
    expect(verify.code).toBe(0)
    expect(verify.stdout).toMatch(/^ok {2}<stdin>: \d+ records, chain intact/)
    const edited = text.replace('DELETE FROM orders', 'DELETE FROM ordersX')
    const broken = await runWarden(['audit', 'verify', '-'], {}, edited)
    expect(broken.code).toBe(1)
    expect(broken.stdout).toMatch(/^broken {2}<stdin>:\d+: seq \d+: edited/)
    const replay = await runWarden(['audit', 'replay', '-', '--json'], {}, text)
    expect(replay.code).toBe(0)
    expect(replay.stdout).toContain('DELETE FROM orders')
    const backtest = await runWarden(['policy', 'backtest', '--json', '--audit', '-', GOOD], {}, text)
    expect(backtest.code).toBe(0)
    expect(JSON.parse(backtest.stdout)).toMatchObject({ replayed: 3 })
    const candidate = await runWarden(
      ['policy', 'backtest', '--audit', LOG, '-'],
      {},
      'defaults: {effect: allow}\n',
    )
    expect(candidate.code).toBe(1)
    const mixed = await runWarden(['audit', 'verify', '-', LOG])
    expect(mixed.code).toBe(2)
    expect(mixed.stderr).toContain('"-" (the log on stdin) stands alone')
  })
})
