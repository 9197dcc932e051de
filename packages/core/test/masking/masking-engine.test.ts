import { createDecipheriv, createHmac, hkdfSync } from 'node:crypto'
import { inspect } from 'node:util'
import { type ColumnRef, createMaskingEngine, detokenize, Secret } from '@warden/core'
import type { DetectorName, MaskRule, MaskStrategyName } from '@warden/policy'
import { describe, expect, it } from 'vitest'

const KEY = 'test-masking-key-0123456789abcdef'
const rule = (over: Partial<MaskRule> & { strategy: MaskStrategyName }): MaskRule => ({
  name: over.name ?? `r-${over.strategy}`,
  columns: [],
  detectors: [],
  tags: [],
  ...over,
})
const detect = (detectors: DetectorName[], strategy: MaskStrategyName = 'redact') =>
  rule({ name: 'detect', detectors, strategy })

describe('strategies on column rules', () => {
  const engine = createMaskingEngine({ key: KEY })
  const cols: ColumnRef[] = [{ name: 'id' }, { name: 'email' }, { name: 'ssn' }, { name: 'note' }]
  const row = () => ({ id: 7, email: 'jane.doe@example.com', ssn: '123-45-6789', note: null })

  it('redact replaces the value with a fixed marker; other columns untouched; NULL stays NULL', () => {
    const m = engine.masker([rule({ columns: ['email', 'ssn', 'note'], strategy: 'redact' })])
    expect(m.plan(cols).applyObject(row())).toEqual({
      id: 7,
      email: '[redacted]',
      ssn: '[redacted]',
      note: null,
    })
    expect(m.report()).toEqual([
      { column: 'email', strategy: 'redact', count: 1 },
      { column: 'ssn', strategy: 'redact', count: 1 },
    ])
  })

  it('partial keeps the last 4 (separators kept), emails keep the domain, short values are fully starred', () => {
    const m = engine.masker([rule({ columns: ['email', 'ssn', 'note'], strategy: 'partial' })])
    const p = m.plan(cols)
    expect(p.applyObject(row())).toEqual({ id: 7, email: '***@example.com', ssn: '***-**-6789', note: null })
    expect(p.applyObject({ id: 1, email: 'x', ssn: '1234567', note: 'abc' })).toEqual({
      id: 1,
      email: '*',
      ssn: '*******',
      note: '***',
    })
    expect(p.applyObject({ id: 2, email: '4111111111111111', ssn: 12345678, note: null })).toMatchObject({
      email: '************1111',
      ssn: '****5678',
    })
  })

  it('hash is keyed, stable, prefixed, and differs by key', () => {
    const a = engine.masker([rule({ columns: ['email'], strategy: 'hash' })]).plan(cols)
    const h1 = a.applyObject(row()).email as string
    const h2 = createMaskingEngine({ key: KEY })
      .masker([rule({ columns: ['email'], strategy: 'hash' })])
      .plan(cols)
      .applyObject(row()).email
    const other = createMaskingEngine({ key: `${KEY}-other` })
      .masker([rule({ columns: ['email'], strategy: 'hash' })])
      .plan(cols)
      .applyObject(row()).email
    expect(h1).toMatch(/^hash:[0-9a-f]{32}$/)
    expect(h2).toBe(h1)
    expect(other).not.toBe(h1)
    expect(h1).not.toContain('jane')
  })

  it('tokenize is deterministic and reversible only with the key', () => {
    const m = engine.masker([rule({ columns: ['email'], strategy: 'tokenize' })])
    const t1 = m.plan(cols).applyObject(row()).email as string
    const t2 = m.plan(cols).applyObject(row()).email as string
    expect(t1).toMatch(/^tok:[A-Za-z0-9_-]+$/)
    expect(t2).toBe(t1)
    expect(t1).not.toContain('jane')
    expect(detokenize(t1, KEY)).toBe('jane.doe@example.com')
    expect(detokenize(t1, new Secret(KEY))).toBe('jane.doe@example.com')
    expect(engine.detokenize(t1)).toBe('jane.doe@example.com')
    expect(() => detokenize(t1, `${KEY}-wrong`)).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_MASKING' }),
    )
    // Any altered byte is detected (the IV is a MAC of the plaintext).
    const body = Buffer.from(t1.slice(4), 'base64url')
    body[body.length - 1] ^= 1
    expect(() => detokenize(`tok:${body.toString('base64url')}`, KEY)).toThrow(
      /not a token made with this key/,
    )
    expect(() => detokenize('hello', KEY)).toThrow(expect.objectContaining({ code: 'ERR_WARDEN_MASKING' }))
  })

  it('tokens follow the documented format: tok: + base64url(siv || AES-256-CTR), keys from HKDF-SHA256', () => {
    const m = engine.masker([rule({ columns: ['v'], strategy: 'tokenize' })])
    const plain = 'x'.repeat(70) // several CTR blocks
    const token = m.plan([{ name: 'v' }]).applyArray([plain])[0] as string
    const body = Buffer.from(token.slice(4), 'base64url')
    const derive = (info: string) =>
      Buffer.from(hkdfSync('sha256', Buffer.from(KEY), 'warden-masking-v1', info, 32))
    const iv = body.subarray(0, 16)
    const d = createDecipheriv('aes-256-ctr', derive('tokenize-enc'), iv)
    const opened = Buffer.concat([d.update(body.subarray(16)), d.final()]).toString('utf8')
    expect(opened).toBe(plain)
    expect(createHmac('sha256', derive('tokenize-mac')).update(plain).digest().subarray(0, 16)).toEqual(iv)
  })

  it('null turns the value into NULL', () => {
    const m = engine.masker([rule({ columns: ['ssn'], strategy: 'null' })])
    expect(m.plan(cols).applyArray([7, 'a@b.co', '123-45-6789', null])).toEqual([7, 'a@b.co', null, null])
  })

  it('masks non-string values (numbers, dates, buffers, JSON) by their string form', () => {
    const m = engine.masker([rule({ columns: ['*'], strategy: 'hash' })])
    const out = m
      .plan([{ name: 'n' }, { name: 'd' }, { name: 'b' }, { name: 'j' }])
      .applyArray([42, new Date(0), Buffer.from('xyz'), { a: 1 }])
    for (const v of out) expect(v).toMatch(/^hash:/)
    const again = m.plan([{ name: 'n' }]).applyArray(['42'])
    expect(again[0]).toBe(out[0])
  })

  it('a random key per process when none is given: tokens differ between engines', () => {
    const e1 = createMaskingEngine()
    const e2 = createMaskingEngine()
    expect(e1.ephemeralKey).toBe(true)
    expect(engine.ephemeralKey).toBe(false)
    const r = [rule({ columns: ['email'], strategy: 'tokenize' })]
    const t = e1.masker(r).plan(cols).applyObject(row()).email as string
    expect(e1.detokenize(t)).toBe('jane.doe@example.com')
    expect(e2.masker(r).plan(cols).applyObject(row()).email).not.toBe(t)
    expect(() => e2.detokenize(t)).toThrow(expect.objectContaining({ code: 'ERR_WARDEN_MASKING' }))
  })
})

describe('column matching', () => {
  const engine = createMaskingEngine({ key: KEY })
  const masked = (patterns: string[], col: ColumnRef) => {
    const p = engine.masker([rule({ columns: patterns, strategy: 'redact' })]).plan([col])
    return p.active && p.applyArray(['v'])[0] === '[redacted]'
  }

  it('by name, table.column, globs, and case-insensitively', () => {
    expect(masked(['email'], { name: 'email', table: 'customers' })).toBe(true)
    expect(masked(['EMAIL'], { name: 'Email' })).toBe(true)
    expect(masked(['*.ssn'], { name: 'ssn', table: 'customers' })).toBe(true)
    expect(masked(['customers.phone'], { name: 'phone', table: 'customers' })).toBe(true)
    expect(masked(['customers.phone'], { name: 'phone', table: 'public.customers' })).toBe(true)
    expect(masked(['public.customers.phone'], { name: 'phone', table: 'public.customers' })).toBe(true)
    expect(masked(['cust*.e?ail'], { name: 'email', table: 'customers' })).toBe(true)
    expect(masked(['customers.phone'], { name: 'phone', table: 'suppliers' })).toBe(false)
    expect(masked(['other.customers.phone'], { name: 'phone', table: 'public.customers' })).toBe(false)
    expect(masked(['email'], { name: 'emails' })).toBe(false)
    expect(masked(['*.ssn'], { name: 'ssn_hint', table: 'customers' })).toBe(false)
  })

  it('follows aliases to the origin column: SELECT ssn AS x FROM customers', () => {
    const aliased: ColumnRef = { name: 'x', table: 'customers', origin: 'ssn' }
    expect(masked(['customers.ssn'], aliased)).toBe(true)
    expect(masked(['ssn'], aliased)).toBe(true)
    expect(masked(['*.ssn'], aliased)).toBe(true)
    expect(masked(['orders.ssn'], aliased)).toBe(false)
  })

  it('a column of unknown table (an expression) matches table.column patterns on the column part: masks more, never less', () => {
    expect(masked(['customers.ssn'], { name: 'ssn' })).toBe(true)
  })

  it('a computed column is masked whole when a column it was derived from is masked', () => {
    expect(masked(['customers.ssn'], { name: 'upper', derivedFrom: ['ssn', 'id'] })).toBe(true)
    expect(masked(['*.ssn'], { name: 'x', derivedFrom: ['SSN'] })).toBe(true)
    expect(masked(['ssn'], { name: 'x', derivedFrom: ['name', 'id'] })).toBe(false)
    // `*`: a whole row (row_to_json(c)) carries every column, so any column rule applies.
    expect(masked(['customers.ssn'], { name: 'row_to_json', derivedFrom: ['*'] })).toBe(true)
    // A column with a table origin is matched by its origin only.
    expect(masked(['ssn'], { name: 'name', table: 'customers', derivedFrom: ['ssn'] })).toBe(false)
    // The strongest of the matching rules wins; the derivation is part of the plan's cache key.
    const m = engine.masker([
      rule({ columns: ['email'], strategy: 'partial' }),
      rule({ columns: ['ssn'], strategy: 'null' }),
    ])
    expect(m.plan([{ name: 'x', derivedFrom: ['email', 'ssn'] }]).applyArray(['a'])).toEqual([null])
    // `partial` keeps part of a value: of a computed one (`c::text`, `reverse(ssn)`) that part may be
    // another column or the hidden digits, so a computed column is redacted instead.
    expect(m.plan([{ name: 'x', derivedFrom: ['email'] }]).applyArray(['a@b.co,123-45-6789'])).toEqual([
      '[redacted]',
    ])
    expect(m.plan([{ name: 'x' }]).applyArray(['a@b.co'])).toEqual(['a@b.co'])
    m.plan([{ name: 'x', derivedFrom: ['email'] }]).applyArray(['a@b.co'])
    expect(m.report()).toContainEqual({ column: 'x', strategy: 'redact', count: 2 })
    // `tokenize` stands alone; carried with a `partial` column, opening the token would reveal it whole.
    const t = engine.masker([
      rule({ columns: ['email'], strategy: 'partial' }),
      rule({ columns: ['ref'], strategy: 'tokenize' }),
      rule({ columns: ['ssn'], strategy: 'hash' }),
    ])
    expect(t.plan([{ name: 'x', derivedFrom: ['ref'] }]).applyArray(['C-1'])[0]).toMatch(/^tok:/)
    expect(t.plan([{ name: 'x', derivedFrom: ['ref', 'email'] }]).applyArray(['C-1 a@b.co'])).toEqual([
      '[redacted]',
    ])
    expect(t.plan([{ name: 'x', derivedFrom: ['ssn', 'email'] }]).applyArray(['1'])[0]).toMatch(/^hash:/)
    // A plain column keeps its own strategy.
    expect(t.plan([{ name: 'email', table: 'customers' }]).applyArray(['a@b.co'])).toEqual(['***@b.co'])
    // Column-scoped detectors apply to columns derived from their columns.
    const d = engine.masker([rule({ columns: ['note'], detectors: ['email'], strategy: 'redact' })])
    expect(d.plan([{ name: 'x', derivedFrom: ['note'] }]).applyArray(['mail a@b.co now'])).toEqual([
      'mail [redacted] now',
    ])
    expect(d.plan([{ name: 'x', derivedFrom: ['id'] }]).applyArray(['mail a@b.co now'])).toEqual([
      'mail a@b.co now',
    ])
  })

  it('the strongest strategy wins when rules overlap', () => {
    const m = engine.masker([
      rule({ columns: ['email'], strategy: 'partial' }),
      rule({ columns: ['*'], strategy: 'hash' }),
    ])
    expect(m.plan([{ name: 'email' }]).applyArray(['a@b.co'])[0]).toMatch(/^hash:/)
  })

  it('array rows mask by position, object rows by name', () => {
    const m = engine.masker([rule({ columns: ['b'], strategy: 'redact' })])
    const p = m.plan([{ name: 'a' }, { name: 'b' }, { name: 'c' }])
    expect(p.applyArray([1, 2, 3])).toEqual([1, '[redacted]', 3])
    expect(p.applyObject({ a: 1, b: 2, c: 3 })).toEqual({ a: 1, b: '[redacted]', c: 3 })
  })
})

describe('plans, reports and tags', () => {
  it('compiles once per (rules, shape) and reuses the plan across commands', () => {
    const engine = createMaskingEngine({ key: KEY, planCacheSize: 2 })
    const rules = Object.freeze([rule({ columns: ['email'], strategy: 'redact', tags: ['pii'] })])
    const shape = () => [{ name: 'id' }, { name: 'email' }]
    const p1 = engine.masker(rules).plan(shape()) as unknown as { slots: unknown }
    const p2 = engine.masker([...rules]).plan(shape()) as unknown as { slots: unknown }
    // Bound per command (counts are per command) but over one compiled slot list.
    expect(p2).not.toBe(p1)
    expect(p2.slots).toBe(p1.slots)
    // Bounded: two other shapes evict the first.
    engine.masker(rules).plan([{ name: 'a' }])
    engine.masker(rules).plan([{ name: 'b' }])
    expect((engine.masker(rules).plan(shape()) as unknown as { slots: unknown }).slots).not.toBe(p1.slots)
  })

  it('a plan with nothing to mask is inactive', () => {
    const engine = createMaskingEngine({ key: KEY })
    const p = engine
      .masker([rule({ columns: ['ssn'], strategy: 'redact' })])
      .plan([{ name: 'id' }, { name: 'total' }])
    expect(p.active).toBe(false)
    const row = { id: 1, total: 2 }
    expect(p.applyObject(row)).toEqual({ id: 1, total: 2 })
  })

  it('reports counts per column and strategy across the rows of a command, and the tags of rules that masked', () => {
    const engine = createMaskingEngine({ key: KEY })
    const m = engine.masker([
      rule({ name: 'pii', columns: ['email'], strategy: 'partial', tags: ['pii'] }),
      rule({ name: 'fin', columns: ['iban'], strategy: 'redact', tags: ['finance'] }),
      rule({ name: 'sec', detectors: ['jwt'], strategy: 'redact', tags: ['secret', 'pii'] }),
    ])
    const p = m.plan([{ name: 'email' }, { name: 'iban' }, { name: 'notes' }])
    p.applyArray(['a@example.com', null, 'hello'])
    p.applyArray(['b@example.com', null, 'nothing'])
    expect(m.report()).toEqual([{ column: 'email', strategy: 'partial', count: 2 }])
    expect(m.tags()).toEqual(['pii'])
    m.plan([{ name: 'email' }, { name: 'iban' }, { name: 'notes' }]).applyArray([
      null,
      null,
      'token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln',
    ])
    expect(m.report()).toContainEqual({ column: 'notes', strategy: 'redact', count: 1 })
    expect(m.tags()).toEqual(['pii', 'secret'])
  })

  it('refuses malformed rules with ERR_WARDEN_MASKING', () => {
    const engine = createMaskingEngine({ key: KEY })
    expect(() => engine.masker([rule({ strategy: 'scramble' as never, columns: ['x'] })])).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_MASKING' }),
    )
    expect(() => engine.masker([rule({ strategy: 'redact', detectors: ['passport' as never] })])).toThrow(
      /unknown detector "passport"/,
    )
    expect(() => engine.masker([rule({ strategy: 'redact', columns: ['a..b'] })])).toThrow(/empty segment/)
    expect(() => engine.masker('x' as never)).toThrow(expect.objectContaining({ code: 'ERR_WARDEN_MASKING' }))
  })

  it('validates options eagerly', () => {
    expect(() => createMaskingEngine({ key: 'short' })).toThrow(/at least 16 bytes/)
    expect(() => createMaskingEngine({ planCacheSize: 0 })).toThrow(/planCacheSize/)
    expect(() => createMaskingEngine({ phoneCountry: 'usa' as never })).toThrow(/phoneCountry/)
  })

  it('never shows the key: not in inspect, JSON or errors', () => {
    const canary = `canary-${Math.random().toString(36).slice(2)}-key-material`
    const engine = createMaskingEngine({ key: new Secret(canary) })
    const m = engine.masker([rule({ columns: ['a'], strategy: 'hash' })])
    const shown = [
      inspect(engine, { depth: 10, showHidden: true }),
      inspect(m, { depth: 10, showHidden: true }),
      JSON.stringify(engine),
      JSON.stringify(m),
    ]
    try {
      engine.detokenize('tok:AAAA')
    } catch (e) {
      shown.push(String(e), inspect(e))
    }
    for (const s of shown) expect(s).not.toContain(canary)
  })
})

describe('detectors inside values', () => {
  const engine = createMaskingEngine({ key: KEY })

  it('masks only the detected part of a cell, with the rule strategy', () => {
    const m = engine.masker([detect(['email', 'credit_card'], 'partial')])
    const p = m.plan([{ name: 'notes' }])
    expect(p.applyArray(['mail jane@example.com, card 4111 1111 1111 1111.'])[0]).toBe(
      'mail ***@example.com, card **** **** **** 1111.',
    )
    expect(m.report()).toEqual([{ column: 'notes', strategy: 'partial', count: 2 }])
  })

  it('a detector rule with columns scans only those columns', () => {
    const m = engine.masker([
      rule({ name: 'notes-only', columns: ['notes'], detectors: ['email'], strategy: 'redact' }),
    ])
    const out = m.plan([{ name: 'notes' }, { name: 'contact' }]).applyArray(['x a@b.com', 'y c@d.com'])
    expect(out).toEqual(['x [redacted]', 'y c@d.com'])
  })

  it('null strategy blanks the whole cell when a value is found', () => {
    const m = engine.masker([detect(['us_ssn'], 'null')])
    expect(m.plan([{ name: 'n' }]).applyArray(['ssn 219-09-9999'])).toEqual([null])
    expect(m.text('ssn 219-09-9999')).toBe('ssn [redacted]')
  })

  it('scans JSON cells deep and masks binary cells whole', () => {
    const m = engine.masker([detect(['aws_access_key'])])
    const out = m
      .plan([{ name: 'doc' }, { name: 'blob' }])
      .applyArray([
        { creds: [{ id: 'AKIAIOSFODNN7EXAMPLE' }], ok: 1 },
        Buffer.from('xx AKIAIOSFODNN7EXAMPLE yy'),
      ])
    expect(out).toEqual([{ creds: [{ id: '[redacted]' }], ok: 1 }, '[redacted]'])
  })
})

describe('text() and json()', () => {
  const engine = createMaskingEngine({ key: KEY })

  it('text masks detected values and values this command masked by column (e.g. in a driver error)', () => {
    const m = engine.masker([rule({ columns: ['ssn'], strategy: 'partial' }), detect(['email'])])
    m.plan([{ name: 'ssn' }]).applyArray(['123-45-6789'])
    expect(m.text('duplicate key: Key (ssn)=(123-45-6789) for bob@example.com')).toBe(
      'duplicate key: Key (ssn)=(***-**-6789) for [redacted]',
    )
    expect(m.report()).toContainEqual({ column: '(text)', strategy: 'redact', count: 1 })
  })

  it('json masks by key path globs and detectors, returns a copy, leaves the input alone', () => {
    const m = engine.masker([
      rule({ columns: ['email', 'billing.*.number', 'users.ssn'], strategy: 'redact', tags: ['pii'] }),
      detect(['jwt'], 'hash'),
    ])
    const input = {
      users: [
        { email: 'a@b.com', ssn: '123-45-6789', name: 'A' },
        { email: null, ssn: '987-65-4321', name: 'B' },
      ],
      billing: { card: { number: '4111111111111111', exp: '12/30' } },
      session: 'Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJl',
      ssn: 'not under users',
    }
    const copy = structuredClone(input)
    const out = m.json(input) as typeof input
    expect(input).toEqual(copy)
    expect(out.users).toEqual([
      { email: '[redacted]', ssn: '[redacted]', name: 'A' },
      { email: null, ssn: '[redacted]', name: 'B' },
    ])
    expect(out.billing.card).toEqual({ number: '[redacted]', exp: '12/30' })
    expect(out.session).toMatch(/^Bearer hash:[0-9a-f]{32}$/)
    expect(out.ssn).toBe('not under users')
    expect(m.report()).toEqual(
      expect.arrayContaining([
        { column: 'users.email', strategy: 'redact', count: 1 },
        { column: 'users.ssn', strategy: 'redact', count: 2 },
        { column: 'billing.card.number', strategy: 'redact', count: 1 },
        { column: 'session', strategy: 'hash', count: 1 },
      ]),
    )
    expect(m.tags()).toEqual(['pii'])
  })

  it('json redacts what is nested too deep to walk, instead of passing it through', () => {
    const m = engine.masker([detect(['email'])])
    let deep: unknown = 'a@b.com'
    for (let i = 0; i < 500; i++) deep = { d: deep }
    const out = JSON.stringify(m.json(deep))
    expect(out).not.toContain('a@b.com')
    expect(out).toContain('[redacted]')
  })
})
