import { setTimeout as sleep } from 'node:timers/promises'
import { WardenError } from '@warden/policy'
import type { Broker, Lease, LeaseRequest } from '../broker/broker.js'
import { type Clock, systemClock } from '../clock.js'
import { newId } from '../internal/ids.js'
import { Secret } from '../secret.js'

export interface StubBrokerOptions {
  /** Lease lifetime, ms (default 60 s). */
  readonly ttlMs?: number
  /** Username of issued password credentials (default `stub`). */
  readonly username?: string
  /** Whether leases are renewable (default false: refresh issues a new lease). */
  readonly renewable?: boolean
  /** Delay every issue/renew by this many ms. */
  readonly delayMs?: number
  /** Where lease lifetimes start (default: the system clock); give the Warden's `manualClock()`. */
  readonly clock?: Clock
}

export interface StubBroker extends Broker {
  /** The canary password inside every issued credential: assert it never shows up anywhere. */
  readonly canary: string
  readonly issued: number
  readonly renewed: number
  readonly revoked: number
  /** Lease ids revoked, in order. */
  readonly revokedIds: readonly string[]
  /** Requests received by issue(), in order. */
  readonly requests: readonly LeaseRequest[]
  /** Leases issued or renewed, in order. */
  readonly leases: readonly Lease[]
  /** Makes the next `times` issue/renew calls fail (default: every call until `recover()`). */
  fail(times?: number, error?: Error): void
  recover(): void
  /** Delay later issue/renew calls by ms. */
  delay(ms: number): void
  /** Lifetime of later leases, ms. */
  ttl(ms: number): void
}

/** An in-memory broker for tests: counts issues, renewals and revocations; fails or delays on demand. */
export function stubBroker(options: StubBrokerOptions = {}): StubBroker {
  const canary = `canary-${newId()}`
  let ttl = options.ttlMs ?? 60_000
  const clock = options.clock ?? systemClock
  let delay = options.delayMs ?? 0
  let failures = 0
  let failError: Error | undefined
  const requests: LeaseRequest[] = []
  const leases: Lease[] = []
  const revokedIds: string[] = []
  const counts = { issued: 0, renewed: 0 }
  const make = (): Lease =>
    Object.freeze({
      id: `stub-${newId()}`,
      credential: Object.freeze({
        type: 'password' as const,
        username: options.username ?? 'stub',
        password: new Secret(canary),
      }),
      expiresAt: new Date(clock.now() + ttl),
      renewable: options.renewable ?? false,
    })
  const gate = async () => {
    if (delay > 0) await sleep(delay)
    if (failures > 0) {
      failures--
      throw failError ?? new WardenError('ERR_WARDEN_BROKER', 'stubBroker: failing on purpose')
    }
  }
  return {
    canary,
    get issued() {
      return counts.issued
    },
    get renewed() {
      return counts.renewed
    },
    get revoked() {
      return revokedIds.length
    },
    revokedIds,
    requests,
    leases,
    async issue(request) {
      requests.push(request)
      await gate()
      counts.issued++
      const lease = make()
      leases.push(lease)
      return lease
    },
    async renew(lease) {
      await gate()
      counts.renewed++
      const next = Object.freeze({ ...lease, expiresAt: new Date(clock.now() + ttl) })
      leases.push(next)
      return next
    },
    async revoke(lease) {
      revokedIds.push(lease.id)
    },
    fail(times = Number.POSITIVE_INFINITY, error?: Error) {
      failures = times
      failError = error
    },
    recover() {
      failures = 0
    },
    delay(ms: number) {
      delay = ms
    },
    ttl(ms: number) {
      ttl = ms
    },
  }
}
