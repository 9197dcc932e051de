// The root README's quick start, run as written: its code blocks are written to a scratch project
// (policies/sql.yaml, quickstart.ts) whose node_modules is the repository's (so @warden/* resolve
// to these packages, from source through the warden-source condition), its shell blocks run with
// bash against the local PostgreSQL, and what the program prints must be what its `// prints:`
// comments promise. The audit log it leaves must verify and hold the denied DELETE.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { readAudit, verifyChain } from '@warden/core'
import { afterAll, describe, expect, it } from 'vitest'
import { type CodeBlock, codeBlocks, ROOT, read } from './markdown.js'

const section = (markdown: string, heading: string): string => {
  const start = markdown.indexOf(`\n## ${heading}`)
  if (start < 0) throw new Error(`README.md has no "## ${heading}" section`)
  const end = markdown.indexOf('\n## ', start + 1)
  return markdown.slice(start, end < 0 ? undefined : end)
}

/** A block's file name, from its first line: `# policies/sql.yaml` or `// quickstart.ts`. */
const fileOf = (block: CodeBlock): string | undefined =>
  /^(?:#|\/\/)\s*([\w./-]+\.(?:ya?ml|ts|json))\s*$/.exec(block.text.split('\n')[0] ?? '')?.[1]

/** The environment a user's shell has: none of the npm_* settings of an npm script or `npm exec` around this run. */
const userEnv = () => Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)))

const blocks = codeBlocks(section(read('README.md'), 'Quick start'))
const dir = mkdtempSync(join(tmpdir(), 'warden-quickstart-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('README quick start', () => {
  it('has its files and shell steps', () => {
    expect(blocks.map((b) => b.lang)).toEqual(['sh', 'yaml', 'ts', 'sh'])
    expect(blocks.filter((b) => b.lang !== 'sh').map(fileOf)).toEqual(['policies/sql.yaml', 'quickstart.ts'])
  })

  it('runs as written and prints what its comments promise', { timeout: 120_000 }, async () => {
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir')
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }))
    for (const block of blocks) {
      const file = fileOf(block)
      if (file === undefined) continue
      mkdirSync(join(dir, dirname(file)), { recursive: true })
      writeFileSync(join(dir, file), `${block.text}\n`)
    }
    const promised = blocks
      .flatMap((b) => [...b.text.matchAll(/\/\/ prints: (.*)$/gm)])
      .map((m) => (m[1] as string).trim())
    expect(promised.length).toBeGreaterThan(0)

    // Both shell blocks, in order, as one script that stops at the first failure. The packages
    // resolve to their TypeScript sources (no build needed); PATH finds psql and the project's npx.
    const script = `set -euo pipefail\n${blocks
      .filter((b) => b.lang === 'sh')
      .map((b) => b.text)
      .join('\n')}\n`
    const run = spawnSync('bash', ['-c', script], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...userEnv(), NODE_OPTIONS: '--conditions=warden-source', npm_config_yes: 'false' },
      timeout: 110_000,
    })
    expect(run.status, run.stderr).toBe(0)
    const printed = run.stdout
      .split('\n')
      .filter((line) => line !== '' && !/^(?:CREATE TABLE|INSERT \d+ \d+)$/.test(line))
    expect(printed).toEqual(promised)

    const audit = join(dir, 'audit.jsonl')
    expect((await verifyChain(audit)).ok).toBe(true)
    const records = []
    for await (const record of readAudit(audit)) if (record.action === 'sql.query') records.push(record)
    expect(records.map((r) => [r.command, r.decision?.rule, r.outcome?.status])).toEqual([
      ['SELECT id, email FROM customers ORDER BY id', 'readers-select', 'ok'],
      ['DELETE FROM orders', 'destructive-sql', 'denied'],
    ])
    // masked on the way back: the addresses never reach the caller or the record
    expect(run.stdout).not.toMatch(/ada@|grace@/)
    expect(JSON.stringify(records)).not.toMatch(/ada@|grace@/)
  })
})
