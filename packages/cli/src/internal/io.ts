import { styleText } from 'node:util'

type Color = Parameters<typeof styleText>[0]

export interface OutStream {
  write(chunk: string): unknown
  readonly isTTY?: boolean
}

/** Where a command writes, plus the environment it may read (the CLI is the only layer that reads env). */
export interface Io {
  readonly stdout: OutStream
  readonly stderr: OutStream
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
}

export interface Style {
  readonly enabled: boolean
  red(s: string): string
  green(s: string): string
  yellow(s: string): string
  cyan(s: string): string
  dim(s: string): string
  bold(s: string): string
}

/** Colours only on a TTY, and never when NO_COLOR is set to a non-empty value (https://no-color.org). */
export function colorEnabled(stream: OutStream, env: Io['env']): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true
  return stream.isTTY === true && env.TERM !== 'dumb'
}

export function createStyle(stream: OutStream, env: Io['env']): Style {
  const enabled = colorEnabled(stream, env)
  // styleText(…, {validateStream:false}) would still honour env on newer Node; we decide ourselves.
  const paint = (color: Color) => (s: string) => (enabled ? styleText(color, s) : s)
  return {
    enabled,
    red: paint('red'),
    green: paint('green'),
    yellow: paint('yellow'),
    cyan: paint('cyan'),
    dim: paint('dim'),
    bold: paint('bold'),
  }
}

export function processIo(): Io {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() }
}

export interface Progress {
  tick(count: number, label?: string): void
  done(): void
}

/**
 * A one-line progress counter on stderr, drawn only when stderr is a TTY so piped
 * output and logs stay clean. Redraws at most every 100 ms.
 */
export function createProgress(io: Io, what: string): Progress {
  if (io.stderr.isTTY !== true) return { tick() {}, done() {} }
  let last = 0
  let drawn = false
  return {
    tick(count, label) {
      const now = Date.now()
      if (now - last < 100) return
      last = now
      drawn = true
      io.stderr.write(`\r\x1b[2K${what}: ${count.toLocaleString('en-US')}${label ? ` ${label}` : ''}`)
    },
    done() {
      if (drawn) io.stderr.write('\r\x1b[2K')
    },
  }
}
