import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { compilePolicy, loadPolicy } from '@warden/policy'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'warden-load-policy-'))
  await mkdir(join(dir, 'set', 'nested'), { recursive: true })
  await writeFile(
    join(dir, 'set', 'a.yaml'),
    'defaults: {effect: deny}\nrules: [{name: a, effect: allow, when: "principal.id == \\"a\\""}]\n',
  )
  await writeFile(
    join(dir, 'set', 'nested', 'b.json'),
    '{"rules": [{"name": "b", "effect": "deny", "when": "principal.id == \\"a\\""}]}',
  )
  await writeFile(join(dir, 'set', 'a_test.yaml'), 'this is not a policy: [')
  await writeFile(join(dir, 'set', 'notes.txt'), 'ignored')
  await writeFile(join(dir, 'broken.yaml'), 'rules:\n  - name: x\n    effect: allow\n    when: sql.nope\n')
  await mkdir(join(dir, 'empty'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('loadPolicy', () => {
  it('loads one file', async () => {
    const p = await loadPolicy(join(dir, 'set', 'a.yaml'))
    expect(p.decide({ principal: { id: 'a' } }).effect).toBe('allow')
    expect(p.sources).toEqual([join(dir, 'set', 'a.yaml')])
  })

  it('loads several files in the order given', async () => {
    const p = await loadPolicy([join(dir, 'set', 'a.yaml'), join(dir, 'set', 'nested', 'b.json')])
    expect(p.decide({ principal: { id: 'a' } })).toMatchObject({ effect: 'deny', rule: 'b' })
    expect(p.rules.map((r) => r.name)).toEqual(['a', 'b'])
  })

  it('loads a folder recursively, skipping test files and non-policy files', async () => {
    const p = await loadPolicy(join(dir, 'set'))
    expect(p.sources).toEqual([join(dir, 'set', 'a.yaml'), join(dir, 'set', 'nested', 'b.json')])
    expect(p.decide({ principal: { id: 'a' } }).effect).toBe('deny')
  })

  it('loads an in-memory object', async () => {
    const p = await loadPolicy({ rules: [{ name: 'o', effect: 'allow' }] })
    expect(p.decide({}).rule).toBe('o')
  })

  it('reports load errors with the file path', async () => {
    await expect(loadPolicy(join(dir, 'broken.yaml'))).rejects.toMatchObject({
      code: 'ERR_POLICY_CEL_TYPE',
      file: join(dir, 'broken.yaml'),
      line: 4,
      column: 15,
    })
  })

  it('missing paths and empty folders are ERR_POLICY_IO', async () => {
    await expect(loadPolicy(join(dir, 'nope.yaml'))).rejects.toMatchObject({ code: 'ERR_POLICY_IO' })
    await expect(loadPolicy(join(dir, 'empty'))).rejects.toMatchObject({ code: 'ERR_POLICY_IO' })
    await expect(loadPolicy([])).rejects.toMatchObject({ code: 'ERR_POLICY_IO' })
  })

  it('revision is the content hash: same content, same revision; any change, new revision', async () => {
    const text = 'rules: [{name: a, effect: allow}]'
    const a = compilePolicy(text)
    expect(a.revision).toBe(compilePolicy(text, { source: 'other-name.yaml' }).revision)
    expect(a.revision).toMatch(/^sha256:[0-9a-f]{64}$/)
    expect(compilePolicy(`${text}\n`).revision).not.toBe(a.revision)
    const set1 = await loadPolicy(join(dir, 'set'))
    const set2 = await loadPolicy([join(dir, 'set', 'a.yaml'), join(dir, 'set', 'nested', 'b.json')])
    expect(set1.revision).toBe(set2.revision)
    expect(compilePolicy({ rules: [{ name: 'a', effect: 'allow' }] }).revision).toBe(
      compilePolicy({ rules: [{ effect: 'allow', name: 'a' }] }).revision,
    )
  })
})
