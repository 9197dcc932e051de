import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runPolicyTests } from '@warden/policy'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const EXAMPLES = fileURLToPath(new URL('../../../examples/policies', import.meta.url))

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'warden-policy-tests-'))
  await writeFile(
    join(dir, 'p.yaml'),
    'rules:\n  - name: readers\n    when: \'"readers" in principal.groups\'\n    effect: allow\n',
  )
  await writeFile(
    join(dir, 'p_test.yaml'),
    `name: mixed
principals:
  reader: { id: r, groups: [readers] }
tests:
  - name: passes
    request: { principal: reader }
    expect: { effect: allow, rule: readers, masks: [] }
  - name: wrong effect and rule
    request: { principal: { id: x } }
    expect: { effect: allow, rule: readers }
  - name: unknown fixture
    request: { principal: nobody }
    expect: { effect: deny }
`,
  )
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('runPolicyTests', () => {
  it('the example policies pass their tests', async () => {
    const report = await runPolicyTests(EXAMPLES)
    const failures = report.results
      .filter((r) => !r.ok)
      .map((r) => `${r.name}: ${r.diff.join(' ')} ${r.error?.message ?? ''}`)
    expect(failures).toEqual([])
    expect(report.ok).toBe(true)
    expect(report.passed).toBeGreaterThanOrEqual(30)
  })

  it('reports each failure with a diff, and broken cases with an error', async () => {
    const report = await runPolicyTests([dir])
    expect(report).toMatchObject({ ok: false, passed: 1, failed: 2 })
    const [pass, wrong, broken] = report.results
    expect(pass).toMatchObject({ name: 'passes', ok: true, diff: [], suite: 'mixed' })
    expect(wrong.ok).toBe(false)
    expect(wrong.diff).toEqual([
      '- effect: "allow"',
      '+ effect: "deny"',
      '- rule: "readers"',
      '+ rule: "default"',
    ])
    expect(wrong.actual).toMatchObject({ effect: 'deny', rule: 'default' })
    expect(broken.error).toMatchObject({ code: 'ERR_POLICY_TEST', line: 12 })
    expect(broken.error?.message).toContain('unknown principal fixture "nobody"')
  })

  it('a malformed test file or policy is a failed result, not a crash', async () => {
    const d = await mkdtemp(join(tmpdir(), 'warden-policy-tests-bad-'))
    try {
      await writeFile(
        join(d, 'x_test.yaml'),
        'tests:\n  - name: a\n    request: {}\n    expct: {effect: allow}\n',
      )
      await writeFile(join(d, 'p.yaml'), 'rules: [{name: a, effect: allow}]')
      let report = await runPolicyTests(d)
      expect(report.results[0].error).toMatchObject({ code: 'ERR_POLICY_TEST', line: 4, column: 5 })
      await writeFile(
        join(d, 'x_test.yaml'),
        'tests:\n  - name: a\n    request: {}\n    expect: {effect: allow}\n',
      )
      await writeFile(join(d, 'p.yaml'), 'rules: [{name: a, effect: allow, when: "nope"}]')
      report = await runPolicyTests(d)
      expect(report.ok).toBe(false)
      expect(report.results[0].error).toMatchObject({ code: 'ERR_POLICY_CEL_TYPE', file: join(d, 'p.yaml') })
      await writeFile(join(d, 'x_test.yaml'), 'tests: [')
      report = await runPolicyTests(d)
      expect(report.results[0].error?.code).toBe('ERR_POLICY_TEST')
    } finally {
      await rm(d, { recursive: true, force: true })
    }
    await expect(runPolicyTests(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ERR_POLICY_IO' })
  })
})
