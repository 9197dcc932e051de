// Values a command masked whole are fingerprinted lazily (only when text() needs them, or in
// batches): every one of them is still masked where an error message echoes it, however many there are.
import { createMaskingEngine } from '@warden/core'
import type { MaskRule } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const rule: MaskRule = Object.freeze({
  name: 'ssn',
  columns: Object.freeze(['ssn']),
  detectors: Object.freeze([]),
  strategy: 'redact',
  tags: Object.freeze([]),
})

describe('values masked whole, echoed in text', () => {
  it('masks the first and the last of many values, across fingerprint batches', () => {
    const m = createMaskingEngine({ key: 'k'.repeat(32) }).masker([rule])
    const plan = m.plan([{ name: 'ssn' }])
    const values = Array.from({ length: 10_000 }, (_, i) => `ssn-${String(i).padStart(6, '0')}`)
    for (const v of values) plan.applyArray([v])
    expect(m.text(`duplicate ${values[0]}`)).not.toContain(values[0])
    expect(m.text(`duplicate ${values[9_999]}`)).not.toContain(values[9_999])
    // and values masked after a text() call are remembered too
    plan.applyArray(['ssn-after-text'])
    expect(m.text('duplicate ssn-after-text')).not.toContain('ssn-after-text')
    expect(m.text('nothing to mask here')).toBe('nothing to mask here')
  })
})
