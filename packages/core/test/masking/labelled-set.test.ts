// Issue 19 part 6: every detector catches every positive of the seeded labelled set and leaves
// every one of its own near misses (same shape, failing the detector's validation) untouched; the
// only cross-detector false positives are the phone detector's, pinned at what the docs publish.
import { createMaskingEngine } from '@warden/core'
import type { DetectorName } from '@warden/policy'
import { describe, expect, test } from 'vitest'
import { labelledSet, score } from '../../../../bench/masking/labelled-set.js'

const engine = createMaskingEngine({ key: 'labelled-set-test-key' })
const scores = score(labelledSet(), (detector: DetectorName, text: string) =>
  engine
    .masker([{ name: detector, columns: [], detectors: [detector], strategy: 'redact', tags: [] }])
    .text(text),
)

describe('detectors on the seeded labelled set', () => {
  for (const s of scores) {
    test(`${s.detector}: every positive caught, every near miss untouched`, () => {
      expect(s.errors).toEqual([])
      expect(s.positives).toBe(200)
      expect(s.caught).toBe(200)
      expect(s.nearMisses).toBe(200)
      expect(s.touched).toBe(0)
      if (s.detector === 'phone') expect(s.precision).toBeGreaterThanOrEqual(0.96)
      else expect(s.precision).toBe(1)
    })
  }
})
