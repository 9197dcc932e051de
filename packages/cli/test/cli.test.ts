import { describe, expect, it } from 'vitest'
import { runWarden, SUBPROCESS_TIMEOUT } from './helpers.js'

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[`)

describe('warden (top level)', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('lists every command in --help and exits 0', async () => {
    const r = await runWarden(['--help'])
    expect(r.code).toBe(0)
    for (const name of [
      'policy check',
      'policy test',
      'policy eval',
      'policy backtest',
      'describe',
      'explain',
      'audit verify',
      'audit replay',
      'approvals serve',
      'demo',
    ]) {
      expect(r.stdout).toContain(name)
    }
    expect(r.stdout).not.toMatch(ANSI)
  })

  it('prints per-command help with usage and exit codes', async () => {
    for (const args of [
      ['policy', 'backtest', '--help'],
      ['help', 'policy', 'backtest'],
    ]) {
      const r = await runWarden(args)
      expect(r.code).toBe(0)
      expect(r.stdout).toContain('Usage: warden policy backtest --audit <file>')
      expect(r.stdout).toContain('Exit codes:')
    }
  })

  it('prints the version from package.json', async () => {
    const r = await runWarden(['--version'])
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it('rejects an unknown command with exit 2', async () => {
    const r = await runWarden(['policy', 'frobnicate'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('unknown command "policy frobnicate"')
  })

  it('lists a group when its subcommand is missing, exit 2', async () => {
    const r = await runWarden(['audit'])
    expect(r.code).toBe(2)
    expect(r.stdout).toContain('warden audit verify')
    expect(r.stdout).toContain('warden audit replay')
  })

  it('rejects an unknown option with the usage line, exit 2', async () => {
    const r = await runWarden(['audit', 'verify', '--bogus', 'x.jsonl'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('unknown option --bogus')
    expect(r.stderr).not.toContain('To specify a positional argument')
    expect(r.stderr).toContain('Usage: warden audit verify')
  })

  it('uses colour only when asked on a non-TTY, and never with NO_COLOR', async () => {
    const piped = await runWarden(['--help'])
    expect(piped.stdout).not.toMatch(ANSI)
    const forced = await runWarden(['--help'], { FORCE_COLOR: '1' })
    expect(forced.stdout).toMatch(ANSI)
    const disabled = await runWarden(['--help'], { FORCE_COLOR: '1', NO_COLOR: '1' })
    expect(disabled.stdout).not.toMatch(ANSI)
  })
})
