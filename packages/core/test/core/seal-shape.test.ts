// The pipeline's command records are sealed by a fixed-shape serializer (no key listing or
// sorting). It must produce exactly the line the generic canonical path produces.

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { commandShaped, GENESIS, outcomeShaped, sealRecord } from '../../src/internal/audit-chain.js'
import { verifyLines } from '../../src/internal/verify-lines.js'

const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined })

// Every key present, in canonical order, as the pipeline builds them (values vary, undefined included).
const commandRecord = fc.record({
  action: fc.string(),
  approval: maybe(fc.record({ id: fc.string(), status: fc.string(), by: maybe(fc.string()) })),
  auditFailure: maybe(fc.constant('fail-open' as const)),
  command: fc.string(),
  // few rule names, so decisions of one rule with other reasons or effects meet (the serializer caches by rule)
  decision: fc.record({
    effect: fc.constantFrom('allow', 'deny', 'approve'),
    reason: fc.oneof(fc.constant('r'), fc.string()),
    revision: fc.constantFrom('sha256:a', 'sha256:b'),
    rule: fc.constantFrom('a', 'b', 'default'),
    shadow: maybe(fc.array(fc.record({ rule: fc.string(), effect: fc.string() }), { maxLength: 2 })),
  }),
  facts: maybe(fc.dictionary(fc.string(), fc.jsonValue())),
  hash: fc.constant(''),
  id: fc.string(),
  lease: maybe(fc.string()),
  masked: maybe(
    fc.array(
      fc.oneof(
        fc.record({ column: fc.string(), count: fc.nat(), strategy: fc.string() }),
        // a custom engine's entries in another key order, or with more keys
        fc.record({ strategy: fc.string(), column: fc.string(), count: fc.nat() }),
        fc.record({ column: fc.string(), count: fc.nat(), strategy: fc.string(), extra: fc.jsonValue() }),
        fc.record({ column: fc.string(), count: fc.string(), strategy: fc.string() }),
      ),
      { maxLength: 3 },
    ),
  ),
  outcome: fc.record({
    code: maybe(fc.string()),
    error: maybe(fc.string()),
    ms: fc.double({ noNaN: true, noDefaultInfinity: true }),
    rows: maybe(fc.nat()),
    status: fc.string(),
  }),
  prev: fc.constant(GENESIS),
  principal: fc.record({ groups: fc.array(fc.string()), id: fc.string(), type: fc.string() }),
  recording: maybe(fc.string()),
  request: fc.dictionary(fc.string(), fc.jsonValue()),
  resource: fc.record({ kind: fc.string(), name: fc.string() }),
  seq: fc.constant(1),
  session: fc.string(),
  time: fc.string(),
  type: fc.constant('command' as const),
  v: fc.constant(1 as const),
})

// Outcome records as the pipeline builds them.
const outcomeRecord = fc.record({
  auditFailure: maybe(fc.constant('fail-open' as const)),
  hash: fc.constant(''),
  id: fc.string(),
  masked: maybe(
    fc.array(fc.record({ column: fc.string(), count: fc.nat(), strategy: fc.string() }), { maxLength: 3 }),
  ),
  of: fc.string(),
  outcome: fc.record({
    bytes: maybe(fc.nat()),
    cancelled: maybe(fc.constant(true)),
    code: maybe(fc.string()),
    error: maybe(fc.string()),
    exit: maybe(fc.integer()),
    ms: fc.double({ noNaN: true, noDefaultInfinity: true }),
    rows: maybe(fc.nat()),
    rule: maybe(fc.string()),
    signal: maybe(fc.string()),
    status: fc.string(),
  }),
  prev: fc.constant(GENESIS),
  recording: maybe(fc.string()),
  seq: fc.constant(1),
  session: fc.string(),
  time: fc.string(),
  type: fc.constant('outcome' as const),
  v: fc.constant(1 as const),
})

describe('fixed-shape outcome records', () => {
  it('seal byte-identically to the generic canonical path, and verify', () => {
    fc.assert(
      fc.property(outcomeRecord, (r) => {
        const generic = sealRecord({ ...r })
        const fast = sealRecord(outcomeShaped({ ...r }))
        expect(fast).toEqual(generic)
        expect(verifyLines([fast.line])).toMatchObject({ ok: true, count: 1 })
      }),
      { numRuns: 500 },
    )
  })
})

describe('fixed-shape command records', () => {
  it('seal byte-identically to the generic canonical path, and verify', () => {
    fc.assert(
      fc.property(commandRecord, (r) => {
        const generic = sealRecord({ ...r })
        const fast = sealRecord(commandShaped({ ...r }))
        expect(fast).toEqual(generic)
        expect(verifyLines([fast.line])).toMatchObject({ ok: true, count: 1 })
      }),
      { numRuns: 500 },
    )
  })
})
