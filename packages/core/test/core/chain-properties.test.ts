// Properties of the audit chain over arbitrary JSON content: what is written re-verifies, and any
// single change to a stored line is caught at that line.

import { memorySink } from '@warden/core/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AuditChain } from '../../src/internal/audit-chain.js'
import { verifyLines } from '../../src/internal/verify-lines.js'

const record = (extra: Record<string, unknown>) => ({
  v: 1 as const,
  id: 'x',
  time: '2026-01-01T00:00:00.000Z',
  seq: 0,
  session: 's',
  prev: '',
  hash: '',
  type: 'command' as const,
  principal: { id: 'p', type: 'service' as const, groups: [] },
  ...extra,
})

function writeAll(contents: Record<string, unknown>[]) {
  const sink = memorySink()
  const chain = new AuditChain([sink], { failOpen: false })
  for (const c of contents) chain.append(record({ facts: c }))
  return sink.lines
}

const contents = fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { minLength: 1, maxLength: 8 })

describe('audit chain properties', () => {
  it('any JSON content seals into lines that verify', () => {
    fc.assert(
      fc.property(contents, (cs) => {
        expect(verifyLines(writeAll(cs))).toMatchObject({ ok: true, count: cs.length })
      }),
    )
  })

  it('changing any one stored line is caught at that line', () => {
    fc.assert(
      fc.property(contents, fc.nat(), fc.string({ minLength: 1 }), (cs, pick, junk) => {
        const lines = [...writeAll(cs)]
        const i = pick % lines.length
        const rec = JSON.parse(lines[i]) as Record<string, unknown>
        rec.command = `${String(rec.command ?? '')}${junk}`
        lines[i] = JSON.stringify(rec)
        expect(verifyLines(lines)).toMatchObject({ ok: false, line: i + 1, seq: i + 1 })
      }),
    )
  })

  it('dropping or swapping lines is caught at the first affected line', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { minLength: 3, maxLength: 8 }), fc.nat(), (values, pick) => {
        const lines = writeAll(values.map((v) => ({ v })))
        const i = pick % (lines.length - 1)
        const dropped = lines.filter((_, j) => j !== i)
        expect(verifyLines(dropped)).toMatchObject({ ok: false, line: i + 1 })
        const swapped = [...lines]
        ;[swapped[i], swapped[i + 1]] = [swapped[i + 1], swapped[i]]
        expect(verifyLines(swapped)).toMatchObject({ ok: false, line: i + 1 })
      }),
    )
  })
})
