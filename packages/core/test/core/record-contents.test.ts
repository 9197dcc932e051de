// What a record may hold: a secret typed into a command (matched by the decision's detector masks)
// reaches no record, in the command text or its facts; and a malformed command is refused with a
// typed error before anything is decided or run.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Command, createWarden, jsonlSink } from '@warden/core'
import { memorySink } from '@warden/core/testing'
import { compilePolicy } from '@warden/policy'
import { afterAll, describe, expect, it } from 'vitest'

const dir = mkdtempSync(join(tmpdir(), 'warden-record-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const AWS_KEY = 'AKIAIOSFODNN7EXAMPLE'
const policy = compilePolicy(`
defaults: { effect: allow }
rules:
  - name: no-rm
    when: '"rm" in shell.programs'
    effect: deny
masks:
  - name: cloud-keys
    detectors: [aws_access_key]
    strategy: redact
`)
const exec = (text: string, argv: string[]): Command => ({
  resource: { kind: 'ssh', name: 'web-1' },
  action: 'ssh.exec',
  text,
  shell: Object.freeze({
    text,
    commands: [{ name: argv[0], argv }],
    programs: [argv[0]],
    flags: [],
    parsed: true,
    error: '',
  }) as never,
  // another family, recorded under request.facts
  tool: { name: 'deploy', args: { key: AWS_KEY } } as never,
})

describe('records', () => {
  it('hold no secret a detector mask matches: command text, facts and other families are masked', async () => {
    const path = join(dir, 'audit.jsonl')
    const audit = memorySink()
    const warden = createWarden({ policy, audit: [audit, jsonlSink(path)], signals: false })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    const allowed = exec(`aws configure set aws_access_key_id ${AWS_KEY}`, [
      'aws',
      'configure',
      'set',
      'aws_access_key_id',
      AWS_KEY,
    ])
    await session.execute(allowed, () => 'ran')
    const denied = exec(`rm -rf /backups/${AWS_KEY}`, ['rm', '-rf', `/backups/${AWS_KEY}`])
    await expect(session.execute(denied, () => 'never')).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    session.check(allowed, { audit: true })
    await warden.close()
    const file = readFileSync(path, 'utf8')
    expect(file).not.toContain(AWS_KEY)
    expect(JSON.stringify(audit.entries)).not.toContain(AWS_KEY)
    // still a faithful description otherwise
    const record = audit.expectRecord({ action: 'ssh.exec', outcome: { status: 'ok' } })
    expect(record.command).toBe('aws configure set aws_access_key_id [redacted]')
    expect(record.facts).toMatchObject({
      programs: ['aws'],
      commands: [{ argv: ['aws', 'configure', 'set', 'aws_access_key_id', '[redacted]'] }],
    })
    // the result's mask report counts only what the caller received (nothing here)
    expect(record.masked).toBeUndefined()
    // the caller's command object is not changed
    expect(allowed.text).toContain(AWS_KEY)
  })

  it('are left as they are when no detector mask applies (the facts object itself is recorded)', async () => {
    const audit = memorySink()
    const warden = createWarden({
      policy: compilePolicy('defaults: { effect: allow }\nrules: []'),
      audit,
      signals: false,
    })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    await session.execute(exec(`echo ${AWS_KEY}`, ['echo', AWS_KEY]), () => 1)
    expect(audit.expectRecord({ action: 'ssh.exec' }).command).toBe(`echo ${AWS_KEY}`)
    await warden.close()
  })
})

describe('malformed commands', () => {
  it.each([
    ['not an object', null],
    ['no action', { resource: { kind: 'tool', name: 't' }, text: 'x' }],
    ['no text', { resource: { kind: 'tool', name: 't' }, action: 'tool.call' }],
    ['text not a string', { resource: { kind: 'tool', name: 't' }, action: 'tool.call', text: 42 }],
    [
      'facts not an object',
      { resource: { kind: 'tool', name: 't' }, action: 'tool.call', text: 'x', tool: 'call' },
    ],
  ])('%s: a WardenTypeError before anything is decided, run or recorded', async (_name, command) => {
    const audit = memorySink()
    const warden = createWarden({
      policy: compilePolicy('defaults: { effect: allow }\nrules: []'),
      audit,
      signals: false,
    })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    let ran = 0
    const error = await session.execute(command as never, () => ++ran).catch((e) => e)
    expect(error).toBeInstanceOf(TypeError)
    expect(error).toMatchObject({
      code: 'ERR_WARDEN_CONFIG',
      message: expect.stringMatching(/^session\.execute: command/),
    })
    expect(() => session.check(command as never)).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_CONFIG' }),
    )
    expect(ran).toBe(0)
    expect(audit.commands()).toHaveLength(0)
    expect(session.operations).toBe(0)
    await warden.close()
  })

  it('a run that is not a function is refused the same way', async () => {
    const warden = createWarden({
      policy: compilePolicy('defaults: { effect: allow }\nrules: []'),
      audit: memorySink(),
      signals: false,
    })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    await expect(
      session.execute(
        { resource: { kind: 'tool', name: 't' }, action: 'tool.call', text: 'x' },
        'run' as never,
      ),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_CONFIG' })
    await warden.close()
  })
})

describe('refusals found while running', () => {
  it('a WardenDeniedError from run is recorded denied with its rule (the server refused a write), not error', async () => {
    const { WardenDeniedError } = await import('@warden/policy')
    const audit = memorySink()
    const warden = createWarden({
      policy: compilePolicy('defaults: { effect: allow }\nrules: []'),
      audit,
      signals: false,
    })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    const refused = new WardenDeniedError(
      'warden:read-only',
      'the server refused a write in a read-only transaction',
    )
    await expect(
      session.execute(
        { resource: { kind: 'postgres', name: 'db' }, action: 'sql.query', text: 'SELECT f()' },
        () => {
          throw refused
        },
      ),
    ).rejects.toBe(refused)
    await session
      .execute({ resource: { kind: 'postgres', name: 'db' }, action: 'sql.query', text: 'SELECT 1' }, () => {
        throw new Error('plain failure')
      })
      .catch(() => {})
    expect(
      audit.commands().map((r) => [r.command, r.outcome?.status, r.outcome?.rule, r.outcome?.code]),
    ).toEqual([
      ['SELECT f()', 'denied', 'warden:read-only', 'ERR_WARDEN_DENIED'],
      ['SELECT 1', 'error', undefined, undefined],
    ])
    expect(audit.verify().ok).toBe(true)
    await warden.close()
  })
})

describe('error messages', () => {
  it('a huge error message is cut before the masker reads all of it, and a secret at the cut is masked whole', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy, audit, signals: false })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    // The key starts just before the 500-character cut.
    const message = `${'x'.repeat(494)} ${AWS_KEY} ${'y'.repeat(5_000_000)}`
    await session
      .execute(exec('echo hi', ['echo', 'hi']), () => {
        throw new Error(message)
      })
      .catch(() => {})
    const error =
      audit.expectRecord({ action: 'ssh.exec', outcome: { status: 'error' } }).outcome?.error ?? ''
    expect(error.length).toBeLessThanOrEqual(501)
    expect(error).not.toContain('AKIA')
    expect(error).toMatch(/^x{494} \[red/)
    await warden.close()
  })
})

describe("a driver's refusal is a decision", () => {
  it('decided as a deny by its warden:* rule before policy (which allows everything here), audited, never run, secrets masked', async () => {
    const audit = memorySink()
    const warden = createWarden({ policy, audit })
    const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
    let ran = false
    const refused = {
      ...exec(`echo ${AWS_KEY}`, ['echo', AWS_KEY]),
      refusal: { rule: 'warden:ssh-test', reason: 'the driver cannot trust this text' },
    } as const
    expect(session.check(refused)).toMatchObject({ effect: 'deny', rule: 'warden:ssh-test' })
    await expect(
      session.execute(refused, () => {
        ran = true
      }),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED', rule: 'warden:ssh-test' })
    expect(ran).toBe(false)
    audit.expectRecord({
      decision: { effect: 'deny', rule: 'warden:ssh-test', reason: 'the driver cannot trust this text' },
      outcome: { status: 'denied' },
    })
    expect(audit.lines.join('\n')).not.toContain(AWS_KEY)
    // Only warden:* rules: a driver cannot pose as a policy rule.
    for (const bad of [
      { rule: 'no-rm', reason: 'x' },
      { rule: 'warden:', reason: 'x' },
      { rule: 'warden:x' },
      null,
    ]) {
      await expect(
        session.execute({ ...exec('ls', ['ls']), refusal: bad } as unknown as Command, () => 1),
      ).rejects.toMatchObject({
        code: 'ERR_WARDEN_CONFIG',
        message: expect.stringContaining('command.refusal'),
      })
    }
    await warden.close()
  })
})
