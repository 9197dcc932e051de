// Ground truth from the real bash (issue 15): runs a command line in a throwaway directory where PATH
// finds no program, so every program bash tries to run reaches `command_not_found_handle`, which logs
// its name. A file `victim` is there to be deleted: a line that runs the real /bin/rm (through
// BASH_CMDS, say) is seen by the file vanishing.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import type { ShellFacts } from '@warden/policy'

const HANDLER = `command_not_found_handle() { printf '%s\\0' "$1" >> "$LOG"; return 127; }\n`

export interface BashRun {
  /** Program names bash tried to run (basenames), in order. */
  readonly ran: readonly string[]
  /** The file `victim` in the working directory was deleted. */
  readonly victimGone: boolean
}

/** Runs `text` as `bash -c text`, or, with `interactive`, as lines typed into `bash -i`. */
export function runBash(text: string | readonly string[], interactive = false): BashRun {
  const dir = mkdtempSync(path.join(tmpdir(), 'warden-bash-'))
  try {
    const bin = path.join(dir, 'bin')
    const work = path.join(dir, 'work')
    mkdirSync(bin)
    mkdirSync(work)
    writeFileSync(path.join(work, 'victim'), '')
    const log = path.join(dir, 'log')
    const rc = path.join(dir, 'rc')
    // Interactive bash on a pipe keeps no history unless told to: the lines assume a terminal.
    writeFileSync(rc, interactive ? `${HANDLER}set -o history -H\n` : HANDLER)
    const env = { PATH: bin, LOG: log, HOME: dir, BASH_ENV: interactive ? '' : rc, TERM: 'dumb' }
    const args = interactive ? ['--noprofile', '--rcfile', rc, '-i'] : ['-c', text as string]
    const input = interactive ? `${(text as readonly string[]).join('\n')}\n` : ''
    spawnSync('/bin/bash', args, {
      cwd: work,
      env,
      input,
      timeout: 10_000,
      stdio: ['pipe', 'ignore', 'ignore'],
    })
    const ran = existsSync(log)
      ? readFileSync(log, 'utf8')
          .split('\0')
          .filter((n) => n !== '')
          .map((n) => path.posix.basename(n))
      : []
    return { ran, victimGone: !existsSync(path.join(work, 'victim')) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** A policy written as the docs advise refuses these facts (unparsed, or run-time values run as code). */
export const refused = (facts: ShellFacts): boolean => !facts.parsed || facts.flags.includes('runtime_code')

/**
 * What bash ran that the facts do not report, or '' when they agree (or the facts are refused).
 * A deleted victim must be reported as `rm`.
 */
export function disagreement(facts: readonly ShellFacts[], run: BashRun): string {
  const programs = new Set(facts.flatMap((f) => f.programs))
  const missing = run.ran.filter((p) => !programs.has(p))
  if (run.victimGone && !programs.has('rm')) missing.push('rm (the victim file was deleted)')
  return missing.length === 0
    ? ''
    : `bash ran ${JSON.stringify(missing)}; facts report ${JSON.stringify([...programs])}`
}
