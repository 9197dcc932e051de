// Masks channel output as a stream (internal/stream-masker.ts: lines, private-key PEM blocks, JSON
// documents, terminal escapes) before the application (or the recording) sees it. Without a masker
// (the common case) chunks pass straight through, decoded only for the recording.
import { StringDecoder } from 'node:string_decoder'
import type { Masker } from '@warden/core'
import { StreamMasker } from '../../internal/stream-masker.js'

/** What one stream may hold for masking (a line, a key, a JSON document); past it, redacted. */
const MAX_HELD_CHARS = 1024 * 1024

type Push = (chunk: Buffer | null) => boolean

export interface OutputFilterOptions {
  readonly masker: Masker | null
  /** Called with the text the application receives (masked), e.g. for the recording. */
  readonly onText: (text: string) => void
  /**
   * Interactive output: a partial line (a prompt) is flushed, masked, after this many ms without
   * more output. Exec output leaves it undefined and holds partial lines until end of stream.
   */
  readonly flushPartialAfterMs?: number
}

/** One filter per stream (stdout, stderr): `write(chunk, push)` as chunks arrive, null at end. */
export class OutputFilter {
  readonly #options: OutputFilterOptions
  readonly #decoder = new StringDecoder('utf8')
  readonly #stream: StreamMasker | null
  #timer: NodeJS.Timeout | undefined
  #push: Push | undefined

  constructor(options: OutputFilterOptions) {
    this.#options = options
    this.#stream =
      options.masker === null
        ? null
        : new StreamMasker(options.masker, { maxHeldChars: MAX_HELD_CHARS, overflow: 'redact' })
  }

  write(chunk: Buffer | null, push: Push): void {
    this.#push = push
    const stream = this.#stream
    if (chunk === null) {
      clearTimeout(this.#timer)
      if (stream === null) {
        const rest = this.#decoder.end()
        if (rest) this.#options.onText(rest)
      } else {
        const rest = stream.push(this.#decoder.end()) + stream.end()
        if (rest) this.#emit(rest)
      }
      push(null)
      return
    }
    if (stream === null) {
      this.#options.onText(this.#decoder.write(chunk))
      push(chunk)
      return
    }
    const masked = stream.push(this.#decoder.write(chunk))
    if (masked) this.#emit(masked)
    clearTimeout(this.#timer)
    const after = this.#options.flushPartialAfterMs
    if (after !== undefined) {
      this.#timer = setTimeout(() => this.#flushPartial(), after)
      this.#timer.unref()
    }
  }

  /** Text that did not come from the server (a notice): shown after whatever is pending. */
  inject(text: string, push: Push): void {
    this.#push ??= push
    clearTimeout(this.#timer)
    this.#flushPartial()
    this.#emit(text)
  }

  #flushPartial(): void {
    const rest = this.#stream?.flushPartial() ?? ''
    if (rest && this.#push) this.#emit(rest)
  }

  #emit(text: string): void {
    this.#options.onText(text)
    this.#push?.(Buffer.from(text))
  }
}
