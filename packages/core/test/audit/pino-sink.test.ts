import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Command, createWarden, pinoSink, verifyChain } from '@warden/core'
import { compilePolicy } from '@warden/policy'
import pino from 'pino'
import { afterAll, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'warden-pino-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const policy = compilePolicy(`
defaults: { effect: allow }
rules:
  - name: no-drop
    when: '"DROP" in sql.types'
    effect: deny
`)
const sql = (text: string, type: string): Command => ({
  resource: { kind: 'postgres', name: 'db' },
  action: 'sql.query',
  text,
  sql: {
    text,
    statements: [],
    types: [type],
    reads: [],
    writes: [],
    tables: [],
    write: type !== 'SELECT',
    unbounded: false,
    functions: [],
    flags: [],
    parsed: true,
    error: '',
  },
})

it('pinoSink logs denials at warn and failures at error; the pino file verifies as a chain', async () => {
  const path = join(dir, 'app.log')
  const logger = pino({ level: 'debug' }, pino.destination({ dest: path, sync: true }))
  logger.info('the app logs here too')
  const warden = createWarden({ policy, audit: pinoSink(logger, { level: 'debug' }) })
  const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
  await session.execute(sql('SELECT 1', 'SELECT'), () => 1)
  await expect(session.execute(sql('DROP TABLE t', 'DROP'), () => 1)).rejects.toThrow()
  await expect(
    session.execute(sql('SELECT 2', 'SELECT'), () => {
      throw new Error('connection reset')
    }),
  ).rejects.toThrow('connection reset')
  await warden.close()
  const lines = readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l))
  const audit = lines.filter((l) => l.audit !== undefined)
  const levelOf = (pred: (a: Record<string, any>) => boolean) =>
    audit.filter((l) => pred(l.audit)).map((l) => l.level)
  expect(levelOf((a) => a.decision?.effect === 'deny')).toEqual([40])
  expect(levelOf((a) => a.outcome?.status === 'error')).toEqual([50])
  expect(levelOf((a) => a.type === 'session.open')).toEqual([20])
  expect(levelOf((a) => a.outcome?.status === 'ok')).toEqual([20])
  const result = await verifyChain(path, { format: 'pino' })
  expect(result).toMatchObject({ ok: true, count: audit.length })
  expect(() => pinoSink(logger, { level: 'nope' as never })).toThrow(/no nope\(\) method/)
  // A level the logger would drop loses records: refused up front.
  expect(() => pinoSink(pino({ level: 'info' }), { level: 'debug' })).toThrow(/drops debug lines/)
})

it('never logs a denial below the configured level', async () => {
  const path = join(dir, 'error-level.log')
  const logger = pino({ level: 'trace' }, pino.destination({ dest: path, sync: true }))
  const warden = createWarden({ policy, audit: pinoSink(logger, { level: 'error' }) })
  const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
  await expect(session.execute(sql('DROP TABLE t', 'DROP'), () => 1)).rejects.toThrow()
  await warden.close()
  const levels = readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l).level)
  expect(new Set(levels)).toEqual(new Set([50]))
})
