// A command whose output streams (a response body, a watch, a log, an ssh channel, a cursor) ends
// when its output ends, not when `run` returns: the driver takes a CommandStream from the context,
// counts what it delivers, and reports the end; core then stores the outcome record (duration, mask
// report, counts, exit status, late error) and only after that lets the driver release the end of
// the stream to the caller. This module holds that state; session-impl.ts seals the record.
import type { CommandStream } from '../session.js'

/** How a streamed command's output ended, as the driver reported it. */
export interface StreamEnd {
  /** A late error (the stream failed after the result was released); undefined when it ended cleanly. */
  readonly error: unknown
  /** The caller abandoned the stream (cancel, destroy, abort) before it ended. */
  readonly cancelled: boolean
}

export class StreamState implements CommandStream {
  byteCount: number | undefined = undefined
  readonly #rows: (count: number) => void
  #end: StreamEnd | undefined
  #recorded: Promise<void> | undefined
  #settle: { resolve: () => void; reject: (error: unknown) => void } | undefined
  /** Set once `run` returned: stores the outcome of this end. */
  #seal: ((end: StreamEnd) => Promise<void>) | undefined
  /** `run` failed: the error path wrote the outcome; the stream's end records nothing more. */
  #void = false

  constructor(rows: (count: number) => void) {
    this.#rows = rows
  }

  get ended(): boolean {
    return this.#end !== undefined
  }

  bytes(count: number): void {
    if (Number.isFinite(count) && count > 0) this.byteCount = (this.byteCount ?? 0) + count
  }

  rows(count: number): void {
    this.#rows(count)
  }

  end(error?: unknown): Promise<void> {
    return this.#finish({ error, cancelled: false })
  }

  cancel(): Promise<void> {
    return this.#finish({ error: undefined, cancelled: true })
  }

  /** Called by the pipeline once `run` returned: the outcome is stored when the stream ends. */
  arm(seal: (end: StreamEnd) => Promise<void>): void {
    this.#seal = seal
    if (this.#end !== undefined) this.#start()
  }

  /** Called by the pipeline when `run` threw: that error is the outcome; the stream's end adds nothing. */
  disarm(): void {
    this.#void = true
    this.#settle?.resolve()
  }

  #finish(end: StreamEnd): Promise<void> {
    // The first report wins: a cancel after an end (or an error after a cancel) changes nothing.
    if (this.#end === undefined) this.#end = end
    if (this.#recorded === undefined) {
      this.#recorded = new Promise<void>((resolve, reject) => {
        this.#settle = { resolve, reject }
      })
      if (this.#void) this.#settle?.resolve()
      else if (this.#seal !== undefined) this.#start()
    }
    return this.#recorded
  }

  #start(): void {
    const settle = this.#settle
    const seal = this.#seal
    const end = this.#end
    if (settle === undefined || seal === undefined || end === undefined) return
    this.#seal = undefined // once
    seal(end).then(settle.resolve, settle.reject)
  }
}
