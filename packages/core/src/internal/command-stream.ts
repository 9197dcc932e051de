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
  readonly #settled: (state: StreamState) => void

  constructor(rows: (count: number) => void, settled: (state: StreamState) => void = () => {}) {
    this.#rows = rows
    this.#settled = settled
  }

  /** Whether `run` returned, so an end is recorded at once (rather than once `run` returns). */
  get armed(): boolean {
    return this.#seal !== undefined || this.#recorded !== undefined
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
    this.#settled(this)
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
    seal(end)
      .then(settle.resolve, settle.reject)
      .finally(() => this.#settled(this))
  }
}

/**
 * A session's streams that have not ended: closing the session ends each as abandoned (cancelled)
 * before `session.close` is recorded, so a stream the application never finished reading (a fetch
 * body left unread) still gets its outcome record.
 */
export class OpenStreams {
  readonly #open = new Set<StreamState>()

  track(state: StreamState): StreamState {
    this.#open.add(state)
    return state
  }

  readonly settled = (state: StreamState): void => {
    this.#open.delete(state)
  }

  /** Cancels every open stream; waits for the records of those whose `run` returned. */
  async cancelAll(): Promise<void> {
    const waits: Promise<void>[] = []
    for (const state of this.#open) {
      // One whose run is still running is recorded when it returns; closing does not wait on it.
      const recorded = state.cancel().catch(() => {})
      if (state.armed) waits.push(recorded)
    }
    await Promise.all(waits)
  }
}
