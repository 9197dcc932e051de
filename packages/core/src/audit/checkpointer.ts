import type { KeyObject } from 'node:crypto'
import { WardenError, WardenTypeError } from '@warden/policy'
import {
  type Checkpoint,
  type CheckpointReason,
  checkpointKeyId,
  checkpointPrivateKey,
  type KeyInput,
  signCheckpoint,
} from './checkpoint.js'

/**
 * Where checkpoints go: a place the log's writer cannot rewrite unnoticed (docs/audit.md). Any
 * object with `append` works: a Redis list, a webhook, a pino transport, `fileCheckpoints(path)`.
 * `append` resolves once the checkpoint is stored; a rejection fails the checkpointer (and the sink
 * that uses it fails closed).
 */
export interface CheckpointStore {
  append(checkpoint: Checkpoint): Promise<void>
  /** Called by the checkpointer's `close()` after the final checkpoint. */
  close?(): Promise<void>
  /**
   * The last checkpoint stored, if the store can read it back: `opened()` takes the chain's id
   * from it when the log's seq-1 record is no longer at hand (its segment archived elsewhere).
   */
  last?(): Promise<Checkpoint | undefined>
}

export interface CheckpointerOptions {
  /** Ed25519 private key (KeyObject or PKCS8 PEM). */
  readonly key: KeyInput
  readonly store: CheckpointStore
  /** A checkpoint every this many records (default 1000). */
  readonly every?: number
  /** …and every this many ms when records were written since the last one (default 10 000). */
  readonly intervalMs?: number
  /** `kid` of the checkpoints (default `checkpointKeyId(key)`). */
  readonly keyId?: string
  readonly clock?: () => Date
}

/** Signs a log's chain head now and then; driven by the sink that writes the log. */
export interface Checkpointer {
  readonly kid: string
  /**
   * Records up to `seq` (whose hash is `hash`) are durably written. Cheap and synchronous: starts a
   * checkpoint when `every` records passed since the last one (never more than one in flight; one
   * asked for meanwhile follows with the newest head).
   */
  written(seq: number, hash: string): void
  /**
   * A writer reopened an existing log whose head is `seq`/`hash`; `log` is the chain's id (the hash
   * of its seq-1 record, see `auditChainId`). Resolves once the `open` checkpoint is stored: the sink
   * appends only after that, so anything found between a `close` and this `open` was not written by
   * a writer holding the key. Rejects when the store fails.
   */
  opened(seq: number, hash: string, log?: string): Promise<void>
  /** Writes the final (`close`) checkpoint, stops the timer and closes the store. */
  close(seq: number, hash: string): Promise<void>
  /** Set once a checkpoint could not be stored; the sink then fails closed. */
  failure(): Error | undefined
  /** Resolves when no checkpoint is in flight. */
  settled(): Promise<void>
}

export function createCheckpointer(options: CheckpointerOptions): Checkpointer {
  const every = options.every ?? 1000
  const intervalMs = options.intervalMs ?? 10_000
  for (const [name, v] of [
    ['every', every],
    ['intervalMs', intervalMs],
  ] as const) {
    if (!Number.isInteger(v) || v <= 0)
      throw new WardenTypeError(`createCheckpointer: ${name} must be a positive integer, got ${String(v)}`)
  }
  if (typeof options.store?.append !== 'function')
    throw new WardenTypeError('createCheckpointer: store must have an append(checkpoint) method')
  const key = checkpointPrivateKey(options.key)
  return new SigningCheckpointer(key, options.store, {
    every,
    intervalMs,
    kid: options.keyId ?? checkpointKeyId(key),
    clock: options.clock ?? (() => new Date()),
  })
}

interface Settings {
  readonly every: number
  readonly intervalMs: number
  readonly kid: string
  readonly clock: () => Date
}

class SigningCheckpointer implements Checkpointer {
  readonly #key: KeyObject
  readonly #store: CheckpointStore
  readonly #s: Settings
  #log: string | undefined
  #head: { seq: number; hash: string } = { seq: 0, hash: '' }
  /** Seq of the last checkpoint started. */
  #last = 0
  #inflight: Promise<void> | undefined
  #pending: CheckpointReason | undefined
  #failure: Error | undefined
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(key: KeyObject, store: CheckpointStore, settings: Settings) {
    this.#key = key
    this.#store = store
    this.#s = settings
  }

  get kid(): string {
    return this.#s.kid
  }

  failure(): Error | undefined {
    return this.#failure
  }

  written(seq: number, hash: string): void {
    if (this.#closed || this.#failure !== undefined) return
    if (seq === 1) this.#log ??= hash
    if (seq <= this.#head.seq) return
    this.#head = { seq, hash }
    this.#startTimer()
    if (seq - this.#last >= this.#s.every) this.#emit('count')
  }

  async opened(seq: number, hash: string, log?: string): Promise<void> {
    if (log !== undefined) this.#log = log
    await this.settled()
    this.#throwIfFailed()
    if (seq === 0) return
    if (this.#log === undefined && this.#store.last !== undefined) {
      let last: Checkpoint | undefined
      try {
        last = await this.#store.last()
      } catch (err) {
        this.#fail(err)
        this.#throwIfFailed()
      }
      if (last !== undefined && last.seq <= seq) this.#log = last.log
    }
    if (this.#log === undefined)
      throw new WardenTypeError(
        "checkpointer.opened: pass the chain's id (the hash of its seq-1 record; auditChainId(files) reads it), or use a store with last()",
      )
    this.#head = { seq, hash }
    this.#startTimer()
    this.#emit('open')
    await this.settled()
    this.#throwIfFailed()
  }

  async close(seq: number, hash: string): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    await this.settled()
    try {
      if (this.#failure === undefined && seq > 0) {
        if (seq === 1) this.#log ??= hash
        this.#head = { seq, hash }
        this.#pending = undefined
        this.#emit('close')
        await this.settled()
      }
    } finally {
      await this.#store.close?.()
    }
    this.#throwIfFailed()
  }

  async settled(): Promise<void> {
    while (this.#inflight !== undefined) await this.#inflight
  }

  #throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure
  }

  #startTimer(): void {
    if (this.#timer !== undefined || this.#closed) return
    this.#timer = setInterval(() => {
      if (this.#head.seq > this.#last) this.#emit('interval')
    }, this.#s.intervalMs)
    this.#timer.unref()
  }

  #emit(reason: CheckpointReason): void {
    if (this.#failure !== undefined) return
    if (this.#inflight !== undefined) {
      // One in flight: the next one follows it with the newest head (close/open are awaited alone).
      this.#pending ??= reason
      return
    }
    const log = this.#log
    if (log === undefined) {
      this.#fail(
        new WardenError(
          'ERR_WARDEN_AUDIT',
          "checkpointer: the chain's id is unknown (records were written to a reopened log before opened())",
        ),
      )
      return
    }
    const { seq, hash } = this.#head
    this.#last = seq
    let checkpoint: Checkpoint
    try {
      checkpoint = signCheckpoint(
        {
          v: 1,
          type: 'checkpoint',
          log,
          seq,
          hash,
          time: this.#s.clock().toISOString(),
          reason,
          kid: this.#s.kid,
        },
        this.#key,
      )
    } catch (err) {
      this.#fail(err)
      return
    }
    let append: Promise<void>
    try {
      append = Promise.resolve(this.#store.append(checkpoint))
    } catch (err) {
      append = Promise.reject(err)
    }
    this.#inflight = append.then(
      () => {
        this.#inflight = undefined
        const next = this.#pending
        this.#pending = undefined
        if (next !== undefined && this.#head.seq > this.#last) this.#emit(next)
      },
      (err: unknown) => {
        this.#inflight = undefined
        this.#fail(err)
      },
    )
  }

  #fail(err: unknown): void {
    const cause = err instanceof Error ? err : new Error(String(err))
    this.#failure ??= new WardenError(
      'ERR_WARDEN_AUDIT',
      `audit checkpoint could not be stored: ${cause.message}`,
      {
        cause,
      },
    )
    if (this.#timer !== undefined) clearInterval(this.#timer)
  }
}
