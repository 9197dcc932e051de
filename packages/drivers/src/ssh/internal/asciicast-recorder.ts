// Session recording in asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON header
// line, then one `[seconds, "o", text]` line per output chunk. `asciinema play file.cast` replays it.
// Only output is recorded (what the terminal showed, already masked); keystrokes are not, since
// they may hold passwords typed at prompts with echo off.
import { createWriteStream, mkdirSync, openSync, type WriteStream } from 'node:fs'
import path from 'node:path'

export interface RecorderHeader {
  readonly width: number
  readonly height: number
  readonly title: string
  readonly command?: string
  readonly term?: string
}

export class AsciicastRecorder {
  readonly path: string
  readonly #out: WriteStream
  readonly #start: number
  #closed: Promise<void> | undefined

  constructor(dir: string, name: string, header: RecorderHeader) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    this.path = path.join(dir, `${name}.cast`)
    // Opened synchronously so a recording that cannot be written fails before the command starts.
    this.#out = createWriteStream('', { fd: openSync(this.path, 'wx', 0o600) })
    this.#out.on('error', () => {}) // a failed recording must not crash the host; close() reports it
    this.#start = performance.now()
    this.#out.write(
      `${JSON.stringify({
        version: 2,
        width: header.width,
        height: header.height,
        timestamp: Math.floor(Date.now() / 1000),
        title: header.title,
        ...(header.command !== undefined ? { command: header.command } : {}),
        env: { TERM: header.term ?? 'xterm' },
      })}\n`,
    )
  }

  output(text: string): void {
    if (text === '' || this.#closed) return
    const seconds = Math.round(performance.now() - this.#start) / 1000
    this.#out.write(`${JSON.stringify([seconds, 'o', text])}\n`)
  }

  /** Ends the file; resolves once it is on disk. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve, reject) => {
      this.#out.once('error', reject)
      this.#out.end(() => resolve())
    })
    return this.#closed
  }
}
