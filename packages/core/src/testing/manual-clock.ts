import { WardenTypeError } from '@warden/policy'
import type { Clock } from '../clock.js'

export interface ManualClock extends Clock {
  /** Moves the time forward by `ms`. */
  advance(ms: number): void
}

/** A clock that moves only when told: lease lifetimes and expiry without waiting on the real clock. */
export function manualClock(start = Date.now()): ManualClock {
  let now = start
  return {
    now: () => now,
    advance(ms: number) {
      if (!(Number.isFinite(ms) && ms >= 0)) throw new WardenTypeError('manualClock.advance: ms must be >= 0')
      now += ms
    },
  }
}
