// Shared by the reliability tests: throwaway servers this suite may kill and restart (never the
// shared PostgreSQL/Redis other test files use), and small utilities.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { chmodSync, chownSync, mkdtempSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import v8 from 'node:v8'
import vm from 'node:vm'

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** Resolves once something accepts TCP connections on port (or rejects after `ms`). */
export async function waitPort(port: number, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        resolve(true)
      })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export interface ThrowawayRedis {
  readonly port: number
  readonly url: string
  /** Kills the server (SIGKILL: no shutdown save; it is started with persistence off anyway). */
  kill(): Promise<void>
  /** Starts it again on the same port, empty. */
  start(): Promise<void>
  /** Freezes the server (SIGSTOP) for `ms`, then lets it go on with its data (a stall or failover pause). */
  pause(ms: number): Promise<void>
  stop(): Promise<void>
}

/** A private redis-server child on a free port, without persistence, that a test may kill and restart. */
export async function startRedis(): Promise<ThrowawayRedis> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      {
        stdio: 'ignore',
      },
    )
    await waitPort(port)
  }
  const kill = async () => {
    const c = child
    child = undefined
    if (!c || c.exitCode !== null) return
    const exited = new Promise((r) => c.once('exit', r))
    c.kill('SIGKILL')
    await exited
  }
  const pause = async (ms: number) => {
    const c = child
    if (!c || c.exitCode !== null) throw new Error('redis is not running')
    c.kill('SIGSTOP')
    await new Promise((r) => setTimeout(r, ms))
    c.kill('SIGCONT')
  }
  await start()
  return { port, url: `redis://127.0.0.1:${port}`, kill, start, pause, stop: kill }
}

const PG_BIN = '/usr/lib/postgresql/15/bin'
const asPostgres = (args: string[]) =>
  execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: 'pipe' })

export interface ThrowawayPostgres {
  readonly port: number
  readonly config: { host: string; port: number; user: string; database: string }
  /** pg_ctl stop -m immediate: every backend dies at once, like a crash. */
  crash(): void
  start(): void
  destroy(): void
}

/**
 * A private PostgreSQL 15 cluster (trust auth, fsync off) in a temp dir on a free port, run as the
 * postgres OS user. The pg driver's credentials test builds a scram cluster inline; this one only
 * needs to be killed and restarted, so it stays minimal.
 */
export async function startPostgres(): Promise<ThrowawayPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-rel-pg-'))
  chmodSync(dir, 0o755)
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString())
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString())
  chownSync(dir, uid, gid)
  const data = join(dir, 'data')
  asPostgres([`${PG_BIN}/initdb`, '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync'])
  const port = await freePort()
  const start = () =>
    asPostgres([
      `${PG_BIN}/pg_ctl`,
      '-D',
      data,
      '-l',
      join(dir, 'log'),
      '-w',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`,
      'start',
    ])
  const stop = (mode: 'immediate' | 'fast') => {
    try {
      asPostgres([`${PG_BIN}/pg_ctl`, '-D', data, '-m', mode, '-w', 'stop'])
    } catch {
      // already stopped
    }
  }
  start()
  return {
    port,
    config: { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' },
    crash: () => stop('immediate'),
    start,
    destroy() {
      stop('immediate')
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

let gc: (() => void) | undefined
/** Heap in use after full GCs (exposes gc at run time: vitest's forks do not start with --expose-gc). */
/** Heap and off-heap (Buffers) memory after two full GCs. */
export function memoryAfterGc(): { heapUsed: number; external: number } {
  heapAfterGc()
  const { heapUsed, external } = process.memoryUsage()
  return { heapUsed, external }
}

export function heapAfterGc(): number {
  if (gc === undefined) {
    v8.setFlagsFromString('--expose-gc')
    gc = vm.runInNewContext('gc') as () => void
  }
  gc()
  gc()
  return process.memoryUsage().heapUsed
}
