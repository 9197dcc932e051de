import { setTimeout as sleep } from 'node:timers/promises'
import { WardenError } from '@warden/policy'
import { type Clock, systemClock } from '../clock.js'
import { canonicalJson } from '../internal/canonical-json.js'
import { isSecret } from '../secret.js'
import type { Broker, Lease, LeaseRequest } from './broker.js'

export interface LeaseCacheOptions {
  /** Refresh when this fraction of a lease's lifetime has passed (default 0.75). */
  readonly refreshAt?: number
  /** A lease with less than this many ms left is never handed out (default 1000). */
  readonly minValidityMs?: number
  /** Extra attempts after a failed issue/renew (default 2), with exponential backoff from `backoffMs` (default 100). */
  readonly retries?: number
  readonly backoffMs?: number
  /**
   * How long one issue/renew may take (default 15000 ms). A broker that does not answer in time
   * counts as a failed attempt, so a hung broker refuses commands instead of holding them forever;
   * a lease it hands over after that is revoked.
   */
  readonly timeoutMs?: number
  /** Where lease lifetimes are read (default: the system clock); `createWarden({clock})` sets it. */
  readonly clock?: Clock
}

interface Entry {
  readonly key: string
  current: Lease | undefined
  refreshAt: number
  inflight: Promise<Lease> | undefined
  request: LeaseRequest
  readonly holders: Set<object>
  /** Leases replaced by a refresh; connections may still use them until they expire. Revoked on release. */
  readonly retired: Lease[]
}

/**
 * Leases per (resource, principal, scope): shared by every session of that principal, refreshed
 * ahead of expiry in the background, one in-flight issue per key, retries with backoff, and never
 * hands out a lease that is (about to be) expired. Leases are revoked when their last session closes.
 */
export class LeaseCache {
  readonly #broker: Broker
  readonly #entries = new Map<string, Entry>()
  readonly #refreshAt: number
  readonly #minValidity: number
  readonly #retries: number
  readonly #backoff: number
  readonly #timeout: number
  readonly #clock: Clock

  constructor(broker: Broker, options: LeaseCacheOptions = {}) {
    this.#broker = broker
    this.#clock = options.clock ?? systemClock
    if (typeof this.#clock?.now !== 'function')
      throw new WardenError('ERR_WARDEN_CONFIG', 'clock must have a now() returning milliseconds')
    this.#refreshAt = options.refreshAt ?? 0.75
    this.#minValidity = options.minValidityMs ?? 1000
    this.#retries = options.retries ?? 2
    this.#backoff = options.backoffMs ?? 100
    this.#timeout = options.timeoutMs ?? 15_000
    if (!(this.#refreshAt > 0 && this.#refreshAt <= 1))
      throw new WardenError('ERR_WARDEN_CONFIG', 'leases.refreshAt must be in (0, 1]')
    if (!(Number.isFinite(this.#timeout) && this.#timeout > 0))
      throw new WardenError('ERR_WARDEN_CONFIG', 'leases.timeoutMs must be a positive number of milliseconds')
  }

  get(request: LeaseRequest, holder: object): Promise<Lease> {
    const key = keyOf(request)
    let entry = this.#entries.get(key)
    if (entry === undefined) {
      entry = {
        key,
        current: undefined,
        refreshAt: 0,
        inflight: undefined,
        request,
        holders: new Set(),
        retired: [],
      }
      this.#entries.set(key, entry)
    }
    entry.holders.add(holder)
    entry.request = request
    const current = this.#valid(entry)
    if (current !== undefined) return Promise.resolve(current)
    return entry.inflight ?? this.#refresh(entry)
  }

  /**
   * The lease get() would resolve to at once, without a promise: the hot path of a driver that
   * asks for the credential on every command. Undefined when get() has to wait for the broker.
   */
  held(request: LeaseRequest, holder: object): Lease | undefined {
    const entry = this.#entries.get(keyOf(request))
    if (entry === undefined) return undefined
    const current = this.#valid(entry)
    if (current === undefined) return undefined
    entry.holders.add(holder)
    entry.request = request
    return current
  }

  /** The entry's current lease while it is valid long enough (starting a background refresh when due). */
  #valid(entry: Entry): Lease | undefined {
    const now = this.#clock.now()
    const current = entry.current
    if (current === undefined || current.expiresAt.getTime() - now <= this.#minValidity) return undefined
    if (now >= entry.refreshAt && entry.inflight === undefined) {
      // Refresh in the background; the current lease stays valid meanwhile. A failure here is
      // retried on the next call, and surfaces once the current lease is too close to expiry.
      this.#refresh(entry).catch(() => {})
    }
    return current
  }

  /** Forgets `holder`; leases no session holds any more are revoked. */
  async release(holder: object): Promise<void> {
    const revoke: Promise<void>[] = []
    for (const entry of this.#entries.values()) {
      if (!entry.holders.delete(holder) || entry.holders.size > 0) continue
      this.#entries.delete(entry.key)
      revoke.push(this.#revokeEntry(entry))
    }
    await Promise.all(revoke)
  }

  async close(): Promise<void> {
    const entries = [...this.#entries.values()]
    this.#entries.clear()
    await Promise.all(entries.map((e) => this.#revokeEntry(e)))
  }

  async #revokeEntry(entry: Entry): Promise<void> {
    if (entry.inflight) await entry.inflight.catch(() => undefined)
    const leases = entry.current ? [...entry.retired, entry.current] : entry.retired
    entry.current = undefined
    entry.retired.length = 0
    // Revocation is best effort: a lease that cannot be revoked still expires on its own.
    await Promise.all(leases.map((l) => this.#broker.revoke(l).catch(() => undefined)))
  }

  #refresh(entry: Entry): Promise<Lease> {
    const promise = this.#attempts(entry).finally(() => {
      entry.inflight = undefined
    })
    entry.inflight = promise
    return promise
  }

  /** The broker's answer, or ERR_WARDEN_BROKER once it is late; a lease that arrives after we gave up is revoked. */
  #inTime(pending: Promise<Lease>, current: Lease | undefined): Promise<Lease> {
    let timer: NodeJS.Timeout | undefined
    let late = false
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        late = true
        reject(new WardenError('ERR_WARDEN_BROKER', `the broker did not answer within ${this.#timeout} ms`))
      }, this.#timeout)
    })
    pending.then(
      (lease) => {
        if (late && lease?.id !== current?.id) this.#broker.revoke(lease).catch(() => {})
      },
      () => {},
    )
    return Promise.race([pending, timeout]).finally(() => clearTimeout(timer))
  }

  async #attempts(entry: Entry): Promise<Lease> {
    const { resource } = entry.request
    let lastError: unknown
    for (let attempt = 0; attempt <= this.#retries; attempt++) {
      if (attempt > 0) await sleep(this.#backoff * 2 ** (attempt - 1) * (0.5 + Math.random()))
      const issuedAt = this.#clock.now()
      try {
        const current = entry.current
        const canRenew =
          current?.renewable &&
          typeof this.#broker.renew === 'function' &&
          current.expiresAt.getTime() > issuedAt
        // Promise.resolve: an in-process broker may (against its type) answer synchronously.
        const pending = Promise.resolve(
          canRenew
            ? (this.#broker.renew as (l: Lease) => Promise<Lease>)(current)
            : this.#broker.issue(entry.request),
        )
        const lease = await this.#inTime(pending, current)
        checkLease(lease)
        const expires = lease.expiresAt.getTime()
        if (expires - this.#clock.now() <= this.#minValidity) {
          lastError = new WardenError(
            'ERR_WARDEN_LEASE_EXPIRED',
            `the broker returned a lease for ${resource.kind}:${resource.name} that expires at ${lease.expiresAt.toISOString()}`,
          )
          continue
        }
        if (current !== undefined && current.id !== lease.id) entry.retired.push(current)
        entry.current = lease
        entry.refreshAt = issuedAt + (expires - issuedAt) * this.#refreshAt
        return lease
      } catch (err) {
        lastError = err
      }
    }
    if (lastError instanceof WardenError && lastError.code === 'ERR_WARDEN_LEASE_EXPIRED') throw lastError
    // The broker's own error text may carry a secret (a broker that echoes a password in its
    // rejection): only Warden's errors, whose messages never hold values, are passed through; for
    // anything else the message names the error class and a system code, and no `cause` is kept.
    throw new WardenError(
      'ERR_WARDEN_BROKER',
      `no credential for ${resource.kind}:${resource.name}: the broker failed ${this.#retries + 1} times (${describeFailure(lastError)})`,
    )
  }
}

/** A description of a broker failure that never includes text the broker chose. */
function describeFailure(error: unknown): string {
  if (error instanceof WardenError) return error.message
  if (!(error instanceof Error)) return `threw a ${error === null ? 'null' : typeof error}`
  const code = (error as { code?: unknown }).code
  const name = /^[A-Za-z][A-Za-z0-9_]{0,40}$/.test(error.name) ? error.name : 'Error'
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{1,40}$/.test(code) ? `${name} ${code}` : name
}

const malformed = (what: string) =>
  new WardenError('ERR_WARDEN_BROKER', `the broker returned a malformed lease: ${what}`)

/**
 * Validates a lease from any broker (in-process ones are not type-checked at run time): the shape
 * drivers rely on, and every credential value a `Secret`, so a plain string can never reach a
 * result, error or log. Messages name the field, never its value.
 */
function checkLease(lease: Lease): void {
  if (lease === null || typeof lease !== 'object') throw malformed('not an object')
  if (typeof lease.id !== 'string' || lease.id === '') throw malformed('id must be a non-empty string')
  if (!(lease.expiresAt instanceof Date) || Number.isNaN(lease.expiresAt.getTime()))
    throw malformed('expiresAt must be a valid Date')
  const c = lease.credential as unknown as Record<string, unknown> | null
  if (c === null || typeof c !== 'object') throw malformed('credential must be an object')
  const secret = (field: string) => {
    if (!isSecret(c[field])) throw malformed(`credential.${field} must be a Secret`)
  }
  const text = (field: string, optional = false) => {
    if (optional && c[field] === undefined) return
    if (typeof c[field] !== 'string') throw malformed(`credential.${field} must be a string`)
  }
  switch (c.type) {
    case 'password':
      text('username')
      secret('password')
      return
    case 'token':
      secret('token')
      return
    case 'ssh':
      text('username')
      secret('privateKey')
      text('certificate', true)
      if (
        c.hostKeys !== undefined &&
        !(Array.isArray(c.hostKeys) && c.hostKeys.every((k) => typeof k === 'string'))
      )
        throw malformed('credential.hostKeys must be an array of strings')
      return
    case 'headers': {
      const h = c.headers as Record<string, unknown> | null
      if (h === null || typeof h !== 'object') throw malformed('credential.headers must be an object')
      for (const k of Object.keys(h))
        if (!isSecret(h[k])) throw malformed('every credential.headers value must be a Secret')
      return
    }
    default:
      throw malformed('credential.type must be password, token, ssh or headers')
  }
}

// Everything a policy or broker can tell apart: two sessions of one principal id with other
// groups or claims do not share a credential (principals are frozen: their JSON is cached).
function keyOf(request: LeaseRequest): string {
  const r = request.resource
  const p = request.principal
  return `${r.kind}:${r.name}\u0000${p.issuer}\u0000${p.id}\u0000${canonicalJson(p.groups)}\u0000${canonicalJson(p.claims)}\u0000${request.scope}`
}
