// Hostile input, property-based (fast-check): the SQL and shell describers and the masker never
// throw, never hang (bounded sizes; every call is timed against a hang bound), and fail
// closed (`parsed: false`) on what they cannot parse. Plus oversized and deeply nested inputs, and
// policy documents with hostile regexes and expressions.
import { createMaskingEngine } from '@warden/core'
import { describeMysql } from '@warden/drivers/mysql'
import { describePostgres, loadPostgresParser } from '@warden/drivers/pg'
import { describeShell, loadShellParser } from '@warden/drivers/ssh'
import {
  compilePolicy,
  DETECTOR_NAMES,
  type MaskRule,
  type Policy,
  PolicyError,
  type ShellFacts,
  type SqlFacts,
  WardenError,
} from '@warden/policy'
import fc from 'fast-check'
import { parseSync } from 'libpg-query'
import { beforeAll, describe, expect, it } from 'vitest'

// Each property: at most numRuns cases, stopped early (as a pass) after the time budget, so a slow
// CI machine runs fewer cases instead of timing out.
const budget = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, interruptAfterTimeLimit: 5_000 })

// "Never hang", per input: the budget above only stops between cases, so each call is also timed,
// and one that takes HANG_MS fails the property with its input (fast-check shrinks it). The calls
// take microseconds to a few milliseconds; this is a liveness bound, not a performance target.
const HANG_MS = 3_000
function timed<T>(what: string, fn: () => T): T {
  const started = performance.now()
  const result = fn()
  const ms = performance.now() - started
  if (ms > HANG_MS) throw new Error(`${what} took ${ms.toFixed(0)} ms on one input: treated as a hang`)
  return result
}
async function timedAsync<T>(what: string, fn: () => Promise<T>): Promise<T> {
  const started = performance.now()
  const result = await fn()
  const ms = performance.now() - started
  if (ms > HANG_MS) throw new Error(`${what} took ${ms.toFixed(0)} ms on one input: treated as a hang`)
  return result
}

beforeAll(async () => {
  await loadPostgresParser()
  await loadShellParser()
  await describeMysql('SELECT 1')
})

const SQL_TOKENS = [
  'SELECT',
  'FROM',
  'WHERE',
  'INSERT',
  'INTO',
  'VALUES',
  'UPDATE',
  'SET',
  'DELETE',
  'DROP',
  'TABLE',
  'WITH',
  'AS',
  'UNION',
  'AND',
  'OR',
  'NOT',
  'NULL',
  'COPY',
  'PROGRAM',
  'DO',
  'PREPARE',
  'EXECUTE',
  'EXPLAIN',
  'ANALYZE',
  '(',
  ')',
  ',',
  ';',
  '*',
  '=',
  '1',
  '$1',
  '?',
  't',
  'u.v',
  "'x'",
  "'",
  '"q"',
  '"',
  '`b`',
  '$$',
  '$x$',
  "E'\\'",
  '--',
  '/*',
  '*/',
  '/*!50000',
  '#',
  '::int',
  '\n',
  '\t',
  '\\',
  '\u0000',
  'é',
  '😀',
]
const sqlSoup = fc.array(fc.constantFrom(...SQL_TOKENS), { maxLength: 40 }).map((t) => t.join(' '))
const anyText = fc.oneof(
  sqlSoup,
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
)

function wellFormedSql(facts: SqlFacts, text: string): void {
  expect(Object.isFrozen(facts)).toBe(true)
  expect(typeof facts.parsed).toBe('boolean')
  expect(facts.text).toBe(text)
  for (const list of [facts.types, facts.reads, facts.writes, facts.tables, facts.functions, facts.flags]) {
    expect(Array.isArray(list)).toBe(true)
  }
  // Parsed with no statement: a no-op (empty or comment-only text), which writes nothing.
  if (facts.parsed && facts.statements.length === 0) {
    expect(facts.types).toEqual([])
    expect(facts.write).toBe(false)
  }
}

describe('describePostgres', () => {
  it('never throws, returns frozen facts, and is parsed only when PostgreSQL’s own parser accepts the text', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const facts = timed('describePostgres', () => describePostgres(text)) as SqlFacts
        wellFormedSql(facts, text)
        // PostgreSQL runs empty or comment-only text as a no-op (EmptyQueryResponse); a NUL is refused.
        let accepted = true
        let statements = 0
        try {
          statements = ((parseSync(text) as { stmts?: unknown[] }).stmts ?? []).length
        } catch {
          accepted = /^[ \t\n\r\f]*$/.test(text)
        }
        if (text.includes('\u0000')) accepted = false
        if (!accepted) expect(facts.parsed).toBe(false)
        if (accepted && statements === 0) expect(facts.parsed).toBe(true)
      }),
      budget(1500),
    )
  })

  it('fails closed on oversized and deeply nested statements', () => {
    const big = `SELECT ${'1 + '.repeat(70_000)}1`
    expect((describePostgres(big) as SqlFacts).parsed).toBe(false)
    // Parentheses alone add no tree depth (and parse); nested expressions do, and are refused.
    const parens = describePostgres(`SELECT ${'('.repeat(5_000)}1${')'.repeat(5_000)}`) as SqlFacts
    expect(typeof parens.parsed).toBe('boolean')
    for (const depth of [1_000, 5_000, 20_000]) {
      expect(
        (describePostgres(`SELECT ${'1+('.repeat(depth)}1${')'.repeat(depth)}`) as SqlFacts).parsed,
        `depth ${depth}`,
      ).toBe(false)
      expect(
        (describePostgres(`SELECT ${'-('.repeat(depth * 5)}1${')'.repeat(depth * 5)}`) as SqlFacts).parsed,
      ).toBe(false)
    }
    const subqueries = `SELECT * FROM ${'(SELECT * FROM '.repeat(3_000)}t${') s'.repeat(3_000)}`
    expect((describePostgres(subqueries) as SqlFacts).parsed).toBe(false)
    expect((describePostgres('\u0000') as SqlFacts).parsed).toBe(false)
    expect((describePostgres('SELECT 1\u0000; DROP TABLE t') as SqlFacts).parsed).toBe(false)
    // Empty text is a no-op the server accepts (issue 14), not a refusal.
    expect((describePostgres('') as SqlFacts).parsed).toBe(true)
  })
})

describe('describeMysql', () => {
  it('never throws and returns frozen facts for any text', async () => {
    await fc.assert(
      fc.asyncProperty(anyText, async (text) => {
        wellFormedSql(await timedAsync('describeMysql', async () => describeMysql(text)), text)
      }),
      budget(1000),
    )
  })

  it('fails closed on what it cannot parse: unterminated quotes, executable comments, truncated statements', async () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9_]{0,10}$/)
    await fc.assert(
      fc.asyncProperty(word, word, fc.constantFrom("'", '"', '`'), async (table, value, quote) => {
        const unterminated = `SELECT * FROM ${table} WHERE a = ${quote}${value}`
        expect((await describeMysql(unterminated)).parsed).toBe(false)
        const executable = `SELECT 1 /*!50000 DROP TABLE ${table} */`
        const facts = await describeMysql(executable)
        expect(facts.parsed).toBe(false)
        expect(facts.flags).toContain('executable_comment')
        expect((await describeMysql(`DELETE FROM ${table} WHERE`)).parsed).toBe(false)
      }),
      budget(300),
    )
  })

  it('fails closed on oversized and deeply nested statements', async () => {
    expect((await describeMysql(`SELECT ${'1 + '.repeat(70_000)}1`)).parsed).toBe(false)
    for (const depth of [2_000, 20_000]) {
      const facts = await describeMysql(`SELECT ${'('.repeat(depth)}1${')'.repeat(depth)}`)
      expect(facts.parsed, `depth ${depth}`).toBe(false)
    }
  })
})

describe('describeShell', () => {
  const word = fc.stringMatching(/^[a-z][a-z0-9._-]{0,8}$/)
  const line = fc.array(word, { minLength: 1, maxLength: 6 }).map((w) => w.join(' '))

  it('never throws and returns frozen facts for any text', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          anyText,
          fc
            .array(
              fc.constantFrom(
                'ls',
                'rm',
                '-rf',
                '|',
                '&&',
                ';',
                '$(',
                ')',
                '`',
                '"',
                "'",
                '<<EOF',
                'EOF',
                '>',
                '&',
                '{',
                '}',
                'if',
                'then',
                'fi',
                '\n',
                '\\',
                '$x',
                '$' + '{x}', // a shell parameter expansion, not a template
                '*',
              ),
              {
                maxLength: 30,
              },
            )
            .map((t) => t.join(' ')),
        ),
        async (text) => {
          const facts: ShellFacts = await timedAsync('describeShell', async () => describeShell(text))
          expect(Object.isFrozen(facts)).toBe(true)
          expect(typeof facts.parsed).toBe('boolean')
          expect(Array.isArray(facts.commands)).toBe(true)
          expect(Array.isArray(facts.programs)).toBe(true)
        },
      ),
      budget(1000),
    )
  })

  it('fails closed on syntax errors and dynamic command names', async () => {
    await fc.assert(
      fc.asyncProperty(line, word, async (text, name) => {
        for (const broken of [
          `${text} "${name}`, // unterminated double quote
          `${text} '${name}`, // unterminated single quote
          `${text} $(${name}`, // unterminated substitution
          `if ${text}; then ${name}`, // if without fi
          `${text} | | ${name}`,
          `$${name} ${text}`, // command name from a variable
        ]) {
          expect((await describeShell(broken)).parsed, broken).toBe(false)
        }
      }),
      budget(200),
    )
  })

  it('fails closed on oversized and deeply nested input', async () => {
    expect((await describeShell(`echo ${'a '.repeat(200_000)}`)).parsed).toBe(false)
    for (const depth of [500, 5_000]) {
      const nested = `${'echo $('.repeat(depth)}id${')'.repeat(depth)}`
      expect((await describeShell(nested)).parsed, `depth ${depth}`).toBe(false)
    }
    expect((await describeShell(`${'{ '.repeat(5_000)}ls${' ; }'.repeat(5_000)}`)).parsed).toBe(false)
  })
})

describe('masker', () => {
  const rules: MaskRule[] = [
    { name: 'cols', columns: ['email', '*.ssn', 'user.*'], detectors: [], strategy: 'partial', tags: [] },
    {
      name: 'detect',
      columns: [],
      detectors: [...DETECTOR_NAMES],
      strategy: 'redact',
      tags: ['pii'],
    },
    { name: 'tok', columns: ['token'], detectors: [], strategy: 'tokenize', tags: [] },
    { name: 'h', columns: ['hashed'], detectors: [], strategy: 'hash', tags: [] },
  ]
  const engine = createMaskingEngine()
  const noSep = (s: string) => !/[\s"'<>()[\]{},;:@]/.test(s)

  it('text(): never throws, always a string, and an embedded email or AWS key never survives', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.string({ maxLength: 200 }),
        fc.boolean(),
        (a, b, aws) => {
          const masker = engine.masker(rules)
          const secret = aws ? 'AKIAIOSFODNN7EXAMPLE' : 'ada.lovelace@example.com'
          const out = timed('masker.text', () => masker.text(`${a} ${secret} ${b}`))
          expect(typeof out).toBe('string')
          if (!(a + b).includes(secret)) expect(out).not.toContain(secret)
          expect(typeof masker.text(a)).toBe('string')
        },
      ),
      budget(800),
    )
  })

  it('json(): never throws on any JSON value and caps deep nesting', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 8 }), (value) => {
        const masker = engine.masker(rules)
        const out = timed('masker.json', () => masker.json(value))
        expect(() => JSON.stringify(out)).not.toThrow()
      }),
      budget(800),
    )
    // Deep nesting under keys no column rule names: the detector walk is capped, not recursed to the end.
    let deep: unknown = 'ada@example.com'
    for (let i = 0; i < 50_000; i++) deep = i % 2 ? [deep] : { n: deep }
    const masked = JSON.stringify(engine.masker(rules).json(deep))
    expect(masked).not.toContain('ada@example.com')
    // The same value under keys that column rules mask whole, with every strategy, and a cyclic
    // one: the strategy cannot serialise it, so it is redacted whole (never thrown, never passed).
    const cyclic: Record<string, unknown> = { email: 'ada@example.com' }
    cyclic.self = cyclic
    const strategies = ['redact', 'partial', 'hash', 'tokenize', 'null'] as const
    const columnRules: MaskRule[] = strategies.map((strategy) => ({
      name: `col-${strategy}`,
      columns: [`k_${strategy}`],
      detectors: [],
      strategy,
      tags: [],
    }))
    for (const value of [deep, cyclic]) {
      const masker = engine.masker(columnRules)
      const input = Object.fromEntries(strategies.map((st) => [`k_${st}`, value]))
      const out = masker.json(input) as Record<string, unknown>
      expect(JSON.stringify(out)).not.toContain('ada@example.com')
      for (const st of strategies) expect(out[`k_${st}`]).toBe(st === 'null' ? null : '[redacted]')
      const row = masker.plan(strategies.map((st) => ({ name: `k_${st}` }))).applyObject({ ...input })
      expect(JSON.stringify(row)).not.toContain('ada@example.com')
    }
  })

  it('plan(): any column names and any cell values, object and array rows', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 8 }),
        fc.option(fc.string({ maxLength: 10 }).filter(noSep), { nil: undefined }),
        fc.array(
          fc.oneof(
            fc.string({ maxLength: 60 }),
            fc.integer(),
            fc.constant(null),
            fc.boolean(),
            fc.double(),
            fc.jsonValue({ maxDepth: 3 }),
          ),
          {
            minLength: 8,
            maxLength: 8,
          },
        ),
        (names, table, cells) => {
          const masker = engine.masker(rules)
          const plan = masker.plan(names.map((name) => ({ name, table })))
          const array = plan.applyArray(cells.slice(0, names.length))
          expect(array.length).toBe(names.length)
          const row: Record<string, unknown> = {}
          names.forEach((n, i) => {
            row[n] = cells[i]
          })
          plan.applyObject(row)
          expect(Array.isArray(masker.report())).toBe(true)
        },
      ),
      budget(800),
    )
  })
})

describe('policies with hostile regexes and expressions', () => {
  const request = (text: string) =>
    ({ action: 'ssh.exec', resource: { kind: 'ssh', name: 'web-1' }, shell: { text } }) as Parameters<
      Policy['decide']
    >[0]

  it.each(['^(a+)+$', '^(a|a)*$', '^(a|aa)+$', '^(.*a){25}$', '^(\\w+\\s?)*$', '(x+x+)+y'])(
    'matches(%s) on 100,000-character inputs returns (linear-time engine)',
    (pattern) => {
      const policy = compilePolicy({
        defaults: { effect: 'deny' },
        rules: [{ name: 'hostile', when: `shell.text.matches(${JSON.stringify(pattern)})`, effect: 'allow' }],
      })
      for (const text of [
        'a'.repeat(100_000),
        `${'a'.repeat(100_000)}!`,
        `${'x'.repeat(100_000)}`,
        `${'ab '.repeat(33_000)}!`,
      ]) {
        const decision = policy.decide(request(text))
        expect(['allow', 'deny']).toContain(decision.effect)
      }
      expect(policy.decide(request(`${'a'.repeat(100_000)}!`)).effect).toBe('deny')
    },
  )

  it('backreferences and lookarounds are refused at load, with the regex error code', () => {
    for (const pattern of ['(a)\\1', '(?=a)a', '(?<!a)b']) {
      let error: unknown
      try {
        compilePolicy({
          rules: [{ name: 'r', when: `shell.text.matches(${JSON.stringify(pattern)})`, effect: 'allow' }],
        })
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(PolicyError)
      expect((error as PolicyError).code).toBe('ERR_POLICY_REGEX')
    }
  })

  it('a bad regex arriving at request time (from data) denies instead of throwing', () => {
    const policy = compilePolicy({
      defaults: { effect: 'allow' },
      rules: [{ name: 'by-pattern', when: 'shell.text.matches(principal.id)', effect: 'deny' }],
    })
    const decision = policy.decide({
      ...request('aa'),
      principal: { id: '(a)\\1', type: 'service' },
    } as never)
    expect(decision.effect).toBe('deny')
  })

  it('arbitrary `when` expressions and documents load or fail with a PolicyError, never anything else', () => {
    const cel = fc
      .array(
        fc.constantFrom(
          'sql.write',
          'principal.id',
          '"a"',
          '1',
          '(',
          ')',
          '==',
          '&&',
          '||',
          '!',
          '.matches(',
          '"^(a+)+$"',
          'in',
          '[',
          ']',
          'size(',
          '+',
          '?',
          ':',
          'true',
          '.',
          'x',
          '\\',
          '"',
          "'",
          '${',
        ),
        { maxLength: 25 },
      )
      .map((t) => t.join(' '))
    fc.assert(
      // Documents: objects, arrays of objects, arrays of anything (a list of sources of the wrong
      // shape, e.g. [""]), scalars and text.
      fc.property(
        cel,
        fc.oneof(
          fc.object({ maxDepth: 3 }),
          fc.array(fc.object({ maxDepth: 2 }), { minLength: 1, maxLength: 3 }),
          fc.array(fc.anything({ maxDepth: 2 }), { minLength: 1, maxLength: 3 }),
          fc.constant(['']),
          fc.string(),
          fc.integer(),
          fc.constant(null),
        ),
        (when, doc) => {
          for (const input of [{ rules: [{ name: 'r', when, effect: 'deny' }] }, doc, JSON.stringify(doc)]) {
            try {
              const policy = compilePolicy(input as never)
              expect(['allow', 'deny', 'approve']).toContain(policy.decide(request('ls')).effect)
            } catch (e) {
              expect(e).toBeInstanceOf(WardenError)
            }
          }
        },
      ),
      budget(600),
    )
    for (const depth of [1_000, 50_000]) {
      const when = `${'('.repeat(depth)}true${')'.repeat(depth)}`
      expect(() => compilePolicy({ rules: [{ name: 'deep', when, effect: 'allow' }] })).toThrow(PolicyError)
    }
    const yamlNest = `rules: ${'['.repeat(10_000)}${']'.repeat(10_000)}`
    expect(() => compilePolicy(yamlNest)).toThrow(WardenError)
  })
})
