/**
 * Where Warden reads the time for lease lifetimes and expiry checks. Default: the system clock.
 * Tests pass `manualClock()` from `@warden/core/testing` to move time without waiting for it.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number
}

export const systemClock: Clock = Object.freeze({ now: () => Date.now() })
