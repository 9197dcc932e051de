// Masks channel output line by line before the application (or the recording) sees it.
// Without a masker (the common case) chunks pass straight through, decoded only for the recording.
import { StringDecoder } from 'node:string_decoder'
import type { Masker } from '@warden/core'

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
  #pending = ''
  #timer: NodeJS.Timeout | undefined
  #push: Push | undefined

  constructor(options: OutputFilterOptions) {
    this.#options = options
  }

  write(chunk: Buffer | null, push: Push): void {
    this.#push = push
    const masker = this.#options.masker
    if (chunk === null) {
      const rest = this.#pending + this.#decoder.end()
      this.#pending = ''
      clearTimeout(this.#timer)
      if (rest) this.#emit(masker ? masker.text(rest) : rest)
      push(null)
      return
    }
    if (masker === null) {
      this.#options.onText(this.#decoder.write(chunk))
      push(chunk)
      return
    }
    const text = this.#pending + this.#decoder.write(chunk)
    const cut = text.lastIndexOf('\n') + 1
    this.#pending = text.slice(cut)
    if (cut > 0) {
      let masked = ''
      for (const line of text.slice(0, cut).split(/(?<=\n)/)) masked += masker.text(line)
      this.#emit(masked)
    }
    clearTimeout(this.#timer)
    const after = this.#options.flushPartialAfterMs
    if (this.#pending && after !== undefined) {
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
    const rest = this.#pending
    this.#pending = ''
    if (rest && this.#push && this.#options.masker) this.#emit(this.#options.masker.text(rest))
  }

  #emit(text: string): void {
    this.#options.onText(text)
    this.#push?.(Buffer.from(text))
  }
}
