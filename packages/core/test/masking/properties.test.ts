import { createMaskingEngine, detokenize } from '@warden/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'

const KEY = 'property-test-key-0123456789'
const engine = createMaskingEngine({ key: KEY })
const one = (strategy: 'partial' | 'hash' | 'tokenize', value: unknown) =>
  engine
    .masker([{ name: 'r', columns: ['v'], detectors: [], strategy, tags: [] }])
    .plan([{ name: 'v' }])
    .applyArray([value])[0]

function luhnComplete(body: number[]): string {
  // Appends the check digit that makes body valid under Luhn.
  let sum = 0
  for (let i = body.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = body[i]
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
  }
  return body.join('') + String((10 - (sum % 10)) % 10)
}

describe('masking properties', () => {
  it('tokenize round-trips any string and is deterministic', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (s) => {
        const t = one('tokenize', s) as string
        expect(t).toBe(one('tokenize', s))
        expect(detokenize(t, KEY)).toBe(s)
      }),
      { numRuns: 300 },
    )
  })

  it('hash is stable and distinct values get distinct hashes', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        fc.pre(a !== b)
        expect(one('hash', a)).toBe(one('hash', a))
        expect(one('hash', a)).not.toBe(one('hash', b))
      }),
    )
  })

  it('partial never shows more than 4 letters/digits, and none of a short value', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(...'abcXYZ0123456789-. '.split('')), maxLength: 40 }),
        (s) => {
          const out = one('partial', s) as string
          const shown = out.replace(/[^A-Za-z0-9]/g, '')
          const total = s.replace(/[^A-Za-z0-9]/g, '').length
          expect(shown.length).toBeLessThanOrEqual(total >= 8 ? 4 : 0)
          expect(out.length).toBe(s.length)
        },
      ),
    )
  })

  it('every Luhn-valid 16-digit number in text is found; changing one digit makes it not a card', () => {
    const masker = () =>
      engine.masker([{ name: 'c', columns: [], detectors: ['credit_card'], strategy: 'redact', tags: [] }])
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 15, maxLength: 15 }),
        fc.integer({ min: 0, max: 15 }),
        (body, at) => {
          const card = luhnComplete([4, ...body.slice(1)])
          fc.pre(!/^(\d)\1+$/.test(card))
          expect(masker().text(`pay ${card} now`)).toBe('pay [redacted] now')
          const broken = card.slice(0, at) + String((Number(card[at]) + 1) % 10) + card.slice(at + 1)
          expect(masker().text(`pay ${broken} now`)).toBe(`pay ${broken} now`)
        },
      ),
      { numRuns: 300 },
    )
  })
})
