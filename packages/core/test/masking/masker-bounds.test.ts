// What the masker promises beyond single cells: every value it masked whole is masked in error text
// (not the first N), values too long to scan are masked whole (fail closed), and strings holding JSON
// are masked as JSON.
import { createMaskingEngine } from '@warden/core'
import { WardenTypeError } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const engine = createMaskingEngine({ key: 'masker-bounds-test-key-0123456', maxScanLength: 1024 })
describe('error text scrubbing', () => {
  it('masks any of 5,000 values masked in the command, the last one included', () => {
    const masker = engine.masker([
      { name: 'p', columns: ['secret'], detectors: [], strategy: 'redact', tags: [] },
    ])
    const plan = masker.plan([{ name: 'secret' }])
    for (let i = 0; i < 5000; i++) plan.applyArray([`CANARY-${i}-value`])
    const out = masker.text(
      'duplicate key (secret)=(CANARY-4999-value) and CANARY-17-value, not CANARY-5000-value',
    )
    expect(out).toBe('duplicate key (secret)=([redacted]) and [redacted], not CANARY-5000-value')
    expect(masker.report()).toContainEqual({ column: '(text)', strategy: 'redact', count: 2 })
  })

  it('masks a long value echoed from its first 256 characters to the end of the text', () => {
    const masker = engine.masker([
      { name: 'p', columns: ['doc'], detectors: [], strategy: 'partial', tags: [] },
    ])
    const long = `CANARY${'x'.repeat(400)}`
    masker.plan([{ name: 'doc' }]).applyArray([long])
    const out = masker.text(`value too long: ${long.slice(0, 300)}`)
    expect(out.startsWith('value too long: ')).toBe(true)
    expect(out).not.toContain('CANARY')
  })
})

describe('values longer than maxScanLength', () => {
  it('are masked whole with the detector rule strategy instead of scanned', () => {
    const masker = engine.masker([
      { name: 'd', columns: [], detectors: ['email'], strategy: 'redact', tags: [] },
    ])
    const plan = masker.plan([{ name: 'notes' }])
    const short = plan.applyArray(['mail a@example.com'])[0]
    const long = plan.applyArray([`${'z'.repeat(2000)} no email here`])[0]
    expect(short).toBe('mail [redacted]')
    expect(long).toBe('[redacted]')
    expect(masker.text('q'.repeat(1025))).toBe('[redacted]')
    expect(plan.applyArray([Buffer.alloc(2000, 65)])[0]).toBe('[redacted]')
  })

  it('a null rule makes a too-long cell NULL and too-long text redacted', () => {
    const masker = engine.masker([
      { name: 'd', columns: [], detectors: ['phone'], strategy: 'null', tags: [] },
    ])
    expect(masker.plan([{ name: 'n' }]).applyArray(['1'.repeat(5000)])[0]).toBeNull()
    expect(masker.text('1'.repeat(5000))).toBe('[redacted]')
  })

  it('rejects a bad cap at construction', () => {
    expect(() => createMaskingEngine({ maxScanLength: 10 })).toThrow(WardenTypeError)
    expect(() => createMaskingEngine({ maxScanLength: 1.5 })).toThrow(/maxScanLength/)
  })
})

describe('strings that hold JSON', () => {
  const masker = () =>
    engine.masker([
      { name: 'pii', columns: ['email', 'user.ssn'], detectors: [], strategy: 'partial', tags: [] },
      { name: 'sec', columns: [], detectors: ['credit_card'], strategy: 'redact', tags: [] },
    ])

  it('are parsed, masked by key path and detector, and written back as JSON', () => {
    const m = masker()
    const text = JSON.stringify({
      email: 'jane@example.com',
      user: { ssn: '123-45-6789' },
      note: 'card 4111 1111 1111 1111',
    })
    const out = m.json(text) as string
    expect(typeof out).toBe('string')
    expect(JSON.parse(out)).toEqual({
      email: '***@example.com',
      user: { ssn: '***-**-6789' },
      note: 'card [redacted]',
    })
    expect(m.report()).toEqual(
      expect.arrayContaining([
        { column: 'email', strategy: 'partial', count: 1 },
        { column: 'user.ssn', strategy: 'partial', count: 1 },
      ]),
    )
  })

  it('nested inside JSON (MCP text content) too', () => {
    const out = masker().json({
      content: [{ type: 'text', text: JSON.stringify([{ email: 'a@b.example.com' }]) }],
    }) as {
      content: { text: string }[]
    }
    expect(JSON.parse(out.content[0].text)).toEqual([{ email: '***@b.example.com' }])
  })

  it('a string that is not JSON is still scanned by detectors, and unmasked JSON text is left as written', () => {
    const m = masker()
    expect(m.json('{ not json 4111 1111 1111 1111')).toBe('{ not json [redacted]')
    const pretty = JSON.stringify({ other: 1 }, null, 2)
    expect(m.json(pretty)).toBe(pretty)
  })
})
