import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs'
import { hostname } from 'node:os'
import { WardenError } from '@warden/policy'

// One writer per audit file. Node has no flock(2), so the lock is a file beside the log holding
// the owner's host, pid and process start time: a lock left by a killed process (same host, pid
// gone or reused by a process that started later) is stale and taken over; a live owner's is not.

interface Owner {
  readonly host: string
  readonly pid: number
  readonly start: string
}

const held = new Set<string>()
let exitHook = false

/** A held lock; `release()` removes the lock file if this process still owns it. */
export interface LogLock {
  release(): void
}

export function lockLog(path: string): LogLock {
  const lock = `${path}.lock`
  const me: Owner = { host: hostname(), pid: process.pid, start: startTime(process.pid) }
  const content = `${JSON.stringify(me)}\n`
  if (held.has(lock)) throw busy(path, me, 'this process')
  if (!create(lock, content)) {
    const owner = readOwner(lock)
    if (owner !== undefined && !stale(owner)) throw busy(path, owner, `process ${owner.pid} on ${owner.host}`)
    // Stale: replace it atomically, then check that our content won a race with another taker.
    const tmp = `${lock}.${process.pid}.tmp`
    writeFileSync(tmp, content, { mode: 0o600 })
    renameSync(tmp, lock)
    const now = readOwner(lock)
    if (now === undefined || now.pid !== me.pid || now.host !== me.host || now.start !== me.start)
      throw busy(path, now ?? me, 'another process that took over the same stale lock')
  }
  held.add(lock)
  if (!exitHook) {
    exitHook = true
    process.on('exit', () => {
      for (const l of held) removeIfOurs(l, content)
    })
  }
  return {
    release() {
      if (!held.delete(lock)) return
      removeIfOurs(lock, content)
    },
  }
}

function create(lock: string, content: string): boolean {
  let fd: number
  try {
    fd = openSync(lock, 'wx', 0o600)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw new WardenError(
      'ERR_WARDEN_AUDIT',
      `jsonlSink: cannot create the lock ${lock}: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
  try {
    writeSync(fd, content)
  } finally {
    closeSync(fd)
  }
  return true
}

function readOwner(lock: string): Owner | undefined {
  try {
    const o = JSON.parse(readFileSync(lock, 'utf8')) as Partial<Owner>
    if (typeof o.host === 'string' && typeof o.pid === 'number' && typeof o.start === 'string')
      return o as Owner
  } catch {}
  // Unreadable or half-written (a crash while creating it): nobody can be proven to hold it.
  return undefined
}

function stale(owner: Owner): boolean {
  // Another host's lock cannot be checked from here: only a person can decide it is stale.
  if (owner.host !== hostname()) return false
  try {
    process.kill(owner.pid, 0)
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH'
  }
  // The pid is alive: the owner only if it is the same process (not a later one given its pid).
  const start = startTime(owner.pid)
  return owner.start !== '' && start !== '' && start !== owner.start
}

/** The process's start time in clock ticks since boot (Linux /proc), '' where unknown. */
function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may hold spaces and parentheses): field 22 is starttime.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] ?? ''
  } catch {
    return ''
  }
}

function removeIfOurs(lock: string, content: string): void {
  try {
    if (readFileSync(lock, 'utf8') === content) unlinkSync(lock)
  } catch {}
}

function busy(path: string, owner: Owner, who: string): WardenError {
  return new WardenError(
    'ERR_WARDEN_AUDIT',
    `jsonlSink: ${path} is already being written by ${who} (lock ${path}.lock, pid ${owner.pid}); ` +
      'one writer per audit file: give each process its own file (e.g. audit-<pid>.jsonl), or remove the lock file if that process is gone',
  )
}
