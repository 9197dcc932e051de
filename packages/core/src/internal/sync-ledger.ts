// Group commit bookkeeping for a file sink: batches are numbered as they are written, an fdatasync
// covers every batch written before it started, and each waiter waits for the batch it needs.

export interface Waiter {
  readonly promise: Promise<void>
  resolve(): void
  reject(err: Error): void
}

export function waiter(): Waiter {
  let resolve!: () => void
  let reject!: (err: Error) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  // A command that stopped waiting (its session failed elsewhere) must not leave a rejection unhandled.
  promise.catch(() => {})
  return { promise, resolve, reject }
}

export class SyncLedger {
  /** Batches written to the file. */
  written = 0
  /** Batches an fdatasync has covered. */
  synced = 0
  #waiting: { gen: number; waiter: Waiter }[] = []

  /** Numbers a batch just written. */
  wrote(): number {
    return ++this.written
  }

  get waiting(): boolean {
    return this.#waiting.length > 0
  }

  /** `w` resolves once batch `gen` is durable. */
  add(gen: number, w: Waiter): void {
    this.#waiting.push({ gen, waiter: w })
  }

  /** A promise for batch `gen` being durable (shared by everyone waiting for it), or undefined if it is. */
  until(gen: number): Promise<void> | undefined {
    if (gen <= this.synced) return undefined
    const last = this.#waiting[this.#waiting.length - 1]
    if (last !== undefined && last.gen === gen) return last.waiter.promise
    const w = waiter()
    this.#waiting.push({ gen, waiter: w })
    return w.promise
  }

  /** Batches up to `gen` are durable: their waiters go on. */
  covered(gen: number): void {
    if (gen > this.synced) this.synced = gen
    const waiting = this.#waiting
    let kept = 0
    for (let i = 0; i < waiting.length; i++) {
      if (waiting[i].gen <= this.synced) waiting[i].waiter.resolve()
      else waiting[kept++] = waiting[i]
    }
    waiting.length = kept
  }

  fail(err: Error): void {
    for (const w of this.#waiting) w.waiter.reject(err)
    this.#waiting = []
  }
}
