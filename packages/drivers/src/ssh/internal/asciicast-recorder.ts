// Session recording in asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/): a JSON header
// line, then one `[seconds, "o", text]` line per output chunk. `asciinema play file.cast` replays it.
// Only output is recorded (what the terminal showed, already masked); keystrokes are not, since
// they may hold passwords typed at prompts with echo off.
import { createWriteStream, mkdirSync, openSync, type WriteStream } from 'node:fs'
import path from 'node:path'
import { WardenError } from '@warden/policy'

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
  #error: WardenError | undefined
  #onFailure: (() => void) | undefined

  constructor(dir: string, name: string, header: RecorderHeader) {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    this.path = path.join(dir, `${name}.cast`)
    // Opened synchronously so a recording that cannot be written fails before the command starts.
    this.#out = createWriteStream('', { fd: openSync(this.path, 'wx', 0o600) })
    // A failed recording must not crash the host: it stops the command (onFailure) and close() reports it.
    this.#out.on('error', (err) => {
      this.#error ??= new WardenError(
        'ERR_WARDEN_AUDIT',
        `the session recording ${this.path} could not be written (${err.message}); the command was stopped`,
        { cause: err },
      )
      this.#onFailure?.()
    })
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

  /** Called once if the recording fails (at once if it already has): the command must not go on unrecorded. */
  onFailure(stop: () => void): void {
    this.#onFailure = stop
    if (this.#error !== undefined) stop()
  }

  output(text: string): void {
    if (text === '' || this.#closed || this.#error) return
    const seconds = Math.round(performance.now() - this.#start) / 1000
    this.#out.write(`${JSON.stringify([seconds, 'o', text])}\n`)
  }

  /** Ends the file; resolves once it is written, rejects (ERR_WARDEN_AUDIT) if any of it could not be. */
  close(): Promise<void> {
    this.#closed ??= new Promise<void>((resolve, reject) => {
      if (this.#error) return reject(this.#error)
      this.#out.once('error', () => reject(this.#error))
      this.#out.end(() => (this.#error ? reject(this.#error) : resolve()))
    })
    return this.#closed
  }
}
