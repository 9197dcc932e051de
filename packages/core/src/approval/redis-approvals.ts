// Approvals shared through Redis: every application instance and every inbox page see the same
// pending requests; a decision made anywhere releases the waiter wherever it runs.
//
// Keys (all under `prefix`): `req:<id>` a hash (see internal/redis-scripts.ts) whose TTL is the
// approval's expiry; `pending` a sorted set of ids by expiry; channel `events` for wake-ups.
// Decisions are Lua scripts, so "is it still pending, is the reviewer not the requester, does the
// fingerprint match, record it" is atomic, and a waiter takes (deletes) the decision in one step,
// so it is used once. Redis is not trusted to approve: each decision is signed by the approver
// service (the inbox) and the waiting process verifies it against the request it computed.

import { createRequire } from 'node:module'
import { WardenError, WardenTypeError } from '@warden/policy'
import type { Redis, RedisOptions } from 'ioredis'
import type { ApprovalOutcome, ApprovalRequest } from './approver.js'
import {
  ApprovalDecisionError,
  type ApprovalDecisionInput,
  type ApprovalEvent,
  type ApprovalRecord,
  type ApprovalStore,
  admitDecision,
  type ConsumeResult,
  checkDecision,
  checkRequest,
  type DecisionRefusal,
  decodeRequest,
  encodeRequest,
  requestDigest,
  waitForDecision,
} from './internal/approval-store.js'
import { approverGroups, foldName } from './internal/approver-rules.js'
import { CONSUME, DECIDE, OPEN, sealedDecisions, WITHDRAW } from './internal/redis-scripts.js'
import { type DecisionKeys, DecisionSigner, settleDecisions } from './internal/signed-decisions.js'

export {
  ApprovalDecisionError,
  type ApprovalDecisionInput,
  type ApprovalEvent,
  type ApprovalRecord,
  type ApprovalStatus,
  type ApprovalStore,
  type DecisionRefusal,
} from './internal/approval-store.js'

export type { DecisionKeys } from './internal/signed-decisions.js'

export interface RedisApprovalsOptions extends DecisionKeys {
  /** An ioredis client (yours: not closed by `close()`), or a URL / options for one the store owns. */
  readonly redis: Redis | string | RedisOptions
  /** Key and channel prefix, e.g. `warden:approvals:`. Default `warden:approvals:`. */
  readonly prefix?: string
  /** A Redis call that takes longer fails the approval closed (ERR_WARDEN_APPROVAL_STORE). Default 2000 ms. */
  readonly commandTimeoutMs?: number
  /** Safety-net re-check while waiting, in case a pub/sub message was missed. Default 1000 ms. */
  readonly pollMs?: number
  /**
   * How long a waiting command rides out a Redis it cannot read (a restart or failover that keeps
   * the data), polling every `pollMs`, before it is refused with ERR_WARDEN_APPROVAL_STORE.
   * Default 5000 ms; 0 refuses at the first failed read. The request's own expiry still applies.
   */
  readonly outageToleranceMs?: number
}

// The hash outlives expiresAt by this much, so the waiter's own withdraw (whose timer fires at
// expiresAt, a little late) still finds it and tells the inboxes; expiry itself is enforced by
// comparing expiresAt, never by the key's TTL.
const EXPIRY_GRACE_MS = 30_000

function storeError(error: unknown): WardenError {
  if (error instanceof WardenError) return error
  return new WardenError(
    'ERR_WARDEN_APPROVAL_STORE',
    'redisApprovals: the approval store (Redis) is unavailable, so the command is not approved; check that Redis is reachable',
    { cause: error },
  )
}

class RedisApprovals implements ApprovalStore {
  readonly #redis: Redis
  readonly #owned: boolean
  readonly #prefix: string
  readonly #channel: string
  readonly #timeoutMs: number
  readonly #pollMs: number
  readonly #outageMs: number
  readonly #signer: DecisionSigner
  #sub: Redis | undefined
  #subReady: Promise<void> | undefined
  readonly #listeners = new Set<(event: ApprovalEvent) => void>()
  readonly #watchers = new Map<string, Set<() => void>>()
  readonly #waits = new Set<AbortController>()
  #closed = false

  constructor(options: RedisApprovalsOptions) {
    if (typeof options !== 'object' || options === null)
      throw new WardenTypeError('redisApprovals: options are required')
    const { redis } = options
    if (isRedisClient(redis)) {
      this.#redis = redis
      this.#owned = false
    } else if (typeof redis === 'string' || (typeof redis === 'object' && redis !== null)) {
      // Our own client: fail fast instead of queueing commands while Redis is down.
      const base: RedisOptions = { maxRetriesPerRequest: 1, lazyConnect: true }
      const Client = loadIoredis()
      this.#redis = typeof redis === 'string' ? new Client(redis, base) : new Client({ ...base, ...redis })
      this.#redis.on('error', () => {}) // surfaced per call as ERR_WARDEN_APPROVAL_STORE
      this.#owned = true
    } else
      throw new WardenTypeError('redisApprovals: "redis" must be an ioredis client, a URL or ioredis options')
    this.#prefix = options.prefix ?? 'warden:approvals:'
    if (typeof this.#prefix !== 'string')
      throw new WardenTypeError('redisApprovals: "prefix" must be a string')
    this.#signer = new DecisionSigner('redisApprovals', options)
    this.#channel = `${this.#prefix}events`
    this.#timeoutMs = options.commandTimeoutMs ?? 2000
    this.#pollMs = options.pollMs ?? 1000
    this.#outageMs = options.outageToleranceMs ?? 5000
    if (!Number.isInteger(this.#outageMs) || this.#outageMs < 0)
      throw new WardenTypeError('redisApprovals: "outageToleranceMs" must be an integer >= 0')
    if (!Number.isInteger(this.#timeoutMs) || this.#timeoutMs <= 0)
      throw new WardenTypeError('redisApprovals: "commandTimeoutMs" must be a positive integer')
    if (!Number.isInteger(this.#pollMs) || this.#pollMs <= 0)
      throw new WardenTypeError('redisApprovals: "pollMs" must be a positive integer')
  }

  async request(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome> {
    await this.open(request)
    return this.wait(request, signal)
  }

  async open(request: ApprovalRequest): Promise<void> {
    checkRequest('redisApprovals', request)
    this.#assertOpen()
    this.#signer.assertCanVerify('redisApprovals')
    const ttl = request.expiresAt.getTime() - Date.now()
    if (ttl <= 0)
      throw new WardenError(
        'ERR_WARDEN_APPROVAL_EXPIRED',
        `approval ${request.id} expired before it was opened`,
      )
    const json = encodeRequest(request)
    const record: ApprovalRecord = { id: request.id, status: 'pending', request }
    const event = JSON.stringify({ type: 'pending', record }, (_k, v) =>
      typeof v === 'bigint' ? v.toString() : v,
    )
    // Subscribe first, so a decision published right after OPEN cannot be missed.
    await this.#call(() => this.#subscribed())
    const created = await this.#call(() =>
      this.#redis.eval(
        OPEN,
        2,
        this.#key(request.id),
        this.#pendingKey(),
        request.id,
        json,
        request.fingerprint,
        foldName(request.principal.id),
        String(request.expiresAt.getTime()),
        String(ttl + EXPIRY_GRACE_MS),
        this.#channel,
        event,
        approverGroups(request)
          .map((g) => g.minApprovals)
          .join(','),
      ),
    )
    if (created !== 1) throw new WardenTypeError(`redisApprovals: approval ${request.id} already exists`)
  }

  wait(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome> {
    const local = new AbortController()
    // Closed between open() and wait(): end like the waits that close() aborted.
    if (this.#closed) local.abort()
    const both = AbortSignal.any([signal, local.signal])
    this.#waits.add(local)
    return waitForDecision(
      {
        consume: (id) => this.#call(async () => this.#consume(request, id)),
        withdraw: async (id, status) => {
          await this.#call(() =>
            this.#redis.eval(WITHDRAW, 2, this.#key(id), this.#pendingKey(), id, this.#channel, status),
          )
        },
        watch: (id, wake) => {
          let set = this.#watchers.get(id)
          if (set === undefined) {
            set = new Set()
            this.#watchers.set(id, set)
          }
          set.add(wake)
          return () => {
            set.delete(wake)
            if (set.size === 0) this.#watchers.delete(id)
          }
        },
      },
      request,
      both,
      this.#pollMs,
      Date.now,
      this.#outageMs,
    ).finally(() => this.#waits.delete(local))
  }

  async withdraw(id: string): Promise<void> {
    this.#assertOpen()
    await this.#call(() =>
      this.#redis.eval(WITHDRAW, 2, this.#key(id), this.#pendingKey(), id, this.#channel, 'withdrawn'),
    )
  }

  async pending(): Promise<ApprovalRecord[]> {
    this.#assertOpen()
    return this.#call(async () => {
      const now = Date.now()
      await this.#redis.zremrangebyscore(this.#pendingKey(), '-inf', now)
      const ids = await this.#redis.zrangebyscore(this.#pendingKey(), now, '+inf')
      if (ids.length === 0) return []
      const pipe = this.#redis.pipeline()
      for (const id of ids) pipe.hgetall(this.#key(id))
      const rows = (await pipe.exec()) ?? []
      const out: ApprovalRecord[] = []
      rows.forEach(([err, hash], i) => {
        if (err) throw err
        const r = this.#record(ids[i], hash as Record<string, string>)
        if (r?.status === 'pending') out.push(r)
      })
      return out
    })
  }

  async get(id: string): Promise<ApprovalRecord | undefined> {
    this.#assertOpen()
    const hash = await this.#call(() => this.#redis.hgetall(this.#key(id)))
    return this.#record(id, hash)
  }

  async decide(id: string, d: ApprovalDecisionInput): Promise<ApprovalRecord> {
    checkDecision(id, d)
    this.#assertOpen()
    this.#signer.assertCanSign('redisApprovals.decide')
    const stored = await this.#call(() => this.#redis.hget(this.#key(id), 'request'))
    const request = stored === null ? undefined : storedRequest(id, stored)
    if (request === undefined) throw new ApprovalDecisionError(id, 'unknown')
    const groups = admitDecision(id, request, d)
    const decidedAt = Date.now()
    const sealed = this.#signer.seal({
      v: 1,
      id,
      fingerprint: request.fingerprint,
      status: d.status,
      by: d.by,
      groups: [...(d.groups ?? [])],
      decidedAt,
      ...(d.reason ? { reason: d.reason } : {}),
      request: requestDigest(request),
    })
    const reply = (await this.#call(() =>
      this.#redis.eval(
        DECIDE,
        2,
        this.#key(id),
        this.#pendingKey(),
        id,
        d.status,
        d.by,
        d.reason ?? '',
        request.fingerprint,
        this.#channel,
        foldName(d.by),
        groups.join(','),
        sealed,
      ),
    )) as string[]
    if (reply[0] !== 'ok') throw new ApprovalDecisionError(id, reply[1] as DecisionRefusal)
    const status = reply[3] as ApprovalRecord['status']
    return {
      id,
      status,
      request: storedRequest(id, reply[2]) ?? request,
      ...(status === 'pending' ? {} : { by: d.by, reason: d.reason, decidedAt: new Date(Number(reply[1])) }),
    }
  }

  subscribe(listener: (event: ApprovalEvent) => void): () => void {
    if (typeof listener !== 'function')
      throw new WardenTypeError('redisApprovals.subscribe: listener must be a function')
    this.#assertOpen()
    this.#listeners.add(listener)
    this.#subscribed().catch(() => {}) // connection errors surface on the next call
    return () => this.#listeners.delete(listener)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const w of this.#waits) w.abort()
    // Let the aborted waits withdraw their requests before the connection goes.
    await new Promise((r) => setImmediate(r))
    this.#listeners.clear()
    this.#sub?.disconnect()
    if (this.#owned) this.#redis.disconnect()
  }

  // ---- internals

  #key(id: string): string {
    return `${this.#prefix}req:${id}`
  }

  #pendingKey(): string {
    return `${this.#prefix}pending`
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new WardenError('ERR_WARDEN_APPROVAL_STORE', 'redisApprovals: the store is closed')
  }

  async #consume(request: ApprovalRequest, id: string): Promise<ConsumeResult> {
    const r = (await this.#redis.eval(CONSUME, 1, this.#key(id), id, this.#channel)) as string[]
    if (r[0] === 'missing') return { state: 'missing' }
    if (r[0] === 'pending') return { state: 'pending' }
    const hash: Record<string, string> = {}
    for (let i = 1; i + 1 < r.length; i += 2) hash[r[i]] = r[i + 1]
    // Taken out of the store either way: a decision that does not verify is refused, never retried.
    try {
      const opened = sealedDecisions(hash).map((sealed) => this.#signer.open(sealed))
      return { state: 'decided', outcome: settleDecisions(request, opened, this.#signer.unsigned) }
    } catch (error) {
      return { state: 'refused', error: error as Error }
    }
  }

  #record(id: string, hash: Record<string, string>): ApprovalRecord | undefined {
    if (hash.request === undefined) return undefined
    const status = hash.status as ApprovalRecord['status']
    // Kept past expiry only for the grace period: to readers it is gone.
    if (status === 'pending' && Number(hash.expiresAt) <= Date.now()) return undefined
    // Written by hand (not JSON, another shape): not a request anyone can be shown or decide.
    const request = storedRequest(id, hash.request)
    if (request === undefined) return undefined
    return {
      id,
      status,
      request,
      requestDigest: requestDigest(request),
      by: hash.by || undefined,
      reason: hash.reason || undefined,
      decidedAt: hash.decidedAt ? new Date(Number(hash.decidedAt)) : undefined,
      approvals: shownDecisions(hash),
    }
  }

  /** One subscriber connection per store, demultiplexed to waiters and inbox listeners. */
  #subscribed(): Promise<void> {
    if (this.#subReady !== undefined) return this.#subReady
    // ioredis resubscribes on its own after a reconnect, but leaves that promise unhandled (6.0.0): a
    // Redis that drops again right after coming back would raise an unhandled rejection in the host
    // process. So the store resubscribes itself, with failures handled, and then resyncs.
    const sub = this.#redis.duplicate({ lazyConnect: true, maxRetriesPerRequest: 1, autoResubscribe: false })
    sub.on('error', () => {})
    sub.on('message', (_channel: string, message: string) => this.#onMessage(message))
    let connected = false
    sub.on('ready', () => {
      if (connected)
        sub.subscribe(this.#channel).then(
          () => this.#resync(),
          () => {},
        )
      connected = true
    })
    this.#sub = sub
    this.#subReady = sub
      .connect()
      .then(() => sub.subscribe(this.#channel))
      .then(() => undefined)
    // A failed attempt is retried by the next call.
    this.#subReady.catch(() => {
      if (this.#sub === sub) {
        this.#sub = undefined
        this.#subReady = undefined
        sub.disconnect()
      }
    })
    return this.#subReady
  }

  /**
   * After a reconnect: messages published while the subscriber was away are lost (pub/sub keeps
   * none), so waiters re-check and inbox listeners get every pending request again.
   */
  #resync(): void {
    for (const wakes of this.#watchers.values()) for (const wake of wakes) wake()
    if (this.#listeners.size === 0) return
    this.pending().then(
      (records) => {
        for (const record of records) this.#emit({ type: 'pending', record })
      },
      () => {}, // still unreachable: the next reconnect resyncs again
    )
  }

  #emit(event: ApprovalEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch {
        // A faulty listener must not break the store or other listeners.
      }
    }
  }

  #onMessage(message: string): void {
    let event: ApprovalEvent
    try {
      event = JSON.parse(message) as ApprovalEvent
      if (event.type === 'pending') {
        const r = event.record as ApprovalRecord & { request: ApprovalRequest }
        event = { type: 'pending', record: { ...r, request: decodeRequest(JSON.stringify(r.request)) } }
      } else if (event.type === 'decided' && event.reason === '') {
        event = { ...event, reason: undefined }
      }
    } catch {
      return // not ours
    }
    const id = event.type === 'pending' ? event.record.id : event.id
    for (const wake of this.#watchers.get(id) ?? []) wake()
    this.#emit(event)
  }

  /** Every Redis call is bounded: a store that does not answer denies (fail closed). */
  async #call<T>(fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer from Redis within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      )
    })
    try {
      return await Promise.race([fn(), timeout])
    } catch (error) {
      throw storeError(error)
    } finally {
      clearTimeout(timer)
    }
  }
}

/** A client the app passes in (an ioredis `Redis`, or a Cluster-like object with the same calls). */
function isRedisClient(value: unknown): value is Redis {
  const v = value as { sendCommand?: unknown; duplicate?: unknown } | null
  return typeof v?.sendCommand === 'function' && typeof v.duplicate === 'function'
}

// ioredis is an optional peer: loaded only when redisApprovals builds its own client, so apps that
// never use Redis need not install it.
function loadIoredis(): typeof Redis {
  try {
    return (createRequire(import.meta.url)('ioredis') as { Redis: typeof Redis }).Redis
  } catch (err) {
    throw new WardenError(
      'ERR_WARDEN_CONFIG',
      'redisApprovals: the package "ioredis" is not installed; install it (npm install ioredis) or pass your own client',
      { cause: err },
    )
  }
}

/**
 * An Approver plus the approvals inbox API on Redis, shared by every instance using the same
 * prefix. `decide()` refuses unknown or already-decided ids, expired requests, a fingerprint the
 * reviewer did not see, and a reviewer who is the requester.
 * @example
 * const approvals = redisApprovals({ redis: new Redis(), prefix: 'prod:approvals:' })
 * const warden = createWarden({ ..., approvals })
 * // elsewhere (an inbox): for (const r of await approvals.pending()) await approvals.decide(r.id, { status: 'approved', by: 'alice' })
 */
export function redisApprovals(options: RedisApprovalsOptions): ApprovalStore {
  return new RedisApprovals(options)
}

/** A stored request, or undefined when it is not one this store wrote (malformed contents are skipped, never thrown). */
function storedRequest(id: string, json: string): ApprovalRequest | undefined {
  let r: ApprovalRequest
  try {
    r = decodeRequest(json)
  } catch {
    return undefined
  }
  if (
    r?.id !== id ||
    typeof r.fingerprint !== 'string' ||
    typeof r.command !== 'string' ||
    typeof r.principal?.id !== 'string' ||
    typeof r.resource?.kind !== 'string' ||
    typeof r.resource?.name !== 'string' ||
    Number.isNaN(r.expiresAt.getTime())
  )
    return undefined
  return r
}

/** The decisions recorded so far, for an inbox to show (unverified: display only). */
function shownDecisions(hash: Record<string, string>): ApprovalRecord['approvals'] {
  const out: { by: string; status: 'approved' | 'rejected'; decidedAt: Date }[] = []
  for (const sealed of sealedDecisions(hash)) {
    try {
      const c = JSON.parse((JSON.parse(sealed) as { claims: string }).claims) as {
        by: unknown
        status: unknown
        decidedAt: unknown
      }
      if (typeof c.by !== 'string' || (c.status !== 'approved' && c.status !== 'rejected')) continue
      out.push({ by: c.by, status: c.status, decidedAt: new Date(Number(c.decidedAt)) })
    } catch {
      // not a decision: the waiting command refuses it; an inbox just does not list it
    }
  }
  return out
}
