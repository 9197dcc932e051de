// The official cel-spec conformance suite (cel-spec v0.25.1, as packaged by @bufbuild/cel-spec),
// core non-protobuf sections, run through our wrapper (RE2 matches, limits, compile = parse +
// rewrite + check). The pass count is a floor: raise it when it goes up, never lower it.

import { getTestRegistry } from '@bufbuild/cel-spec/testdata/registry.js'
import { getConformanceSuite } from '@bufbuild/cel-spec/testdata/tests.js'
import { anyUnpack } from '@bufbuild/protobuf/wkt'
import { Duration, UnsignedInt } from '@marcbachmann/cel-js/evaluator'
import { describe, expect, it } from 'vitest'
import { compileExpression, createDynEnvironment } from '../src/internal/cel.js'

/** Passing tests in the core sections (of CORE_TOTAL scored). Only ever raise this. */
const PASS_FLOOR = 955
const CORE = [
  'basic',
  'comparisons',
  'conversions',
  'fields',
  'fp_math',
  'integer_math',
  'lists',
  'logic',
  'macros',
  'parse',
  'plumbing',
  'string',
  'timestamps',
]

type Norm = { t: string; v?: unknown }
class ProtoDependent extends Error {}
const registry = getTestRegistry()
const hex = (u8: Uint8Array) => Buffer.from(u8).toString('hex')

type Msg = any

function msgToNorm(m: Msg): Norm {
  if (m.$typeName === 'google.protobuf.Timestamp')
    return { t: 'timestamp', v: BigInt(m.seconds) * 1_000_000_000n + BigInt(m.nanos) }
  if (m.$typeName === 'google.protobuf.Duration')
    return { t: 'duration', v: BigInt(m.seconds) * 1_000_000_000n + BigInt(m.nanos) }
  throw new ProtoDependent(m.$typeName)
}
function valueToNorm(val: Msg): Norm {
  const k = val.kind
  switch (k.case) {
    case 'nullValue':
      return { t: 'null' }
    case 'boolValue':
      return { t: 'bool', v: k.value }
    case 'int64Value':
      return { t: 'int', v: BigInt(k.value) }
    case 'uint64Value':
      return { t: 'uint', v: BigInt(k.value) }
    case 'doubleValue':
      return { t: 'double', v: k.value }
    case 'stringValue':
      return { t: 'string', v: k.value }
    case 'bytesValue':
      return { t: 'bytes', v: hex(k.value) }
    case 'typeValue':
      return { t: 'type', v: k.value }
    case 'listValue':
      return { t: 'list', v: k.value.values.map(valueToNorm) }
    case 'mapValue':
      return { t: 'map', v: k.value.entries.map((e: Msg) => [valueToNorm(e.key), valueToNorm(e.value)]) }
    case 'objectValue':
      return msgToNorm(anyUnpack(k.value, registry))
    default:
      throw new ProtoDependent(k.case)
  }
}
function toInput(val: Msg): unknown {
  const k = val.kind
  switch (k.case) {
    case 'nullValue':
      return null
    case 'boolValue':
    case 'stringValue':
    case 'doubleValue':
      return k.value
    case 'int64Value':
      return BigInt(k.value)
    case 'uint64Value':
      return new UnsignedInt(BigInt(k.value))
    case 'bytesValue':
      return new Uint8Array(k.value)
    case 'listValue':
      return k.value.values.map(toInput)
    case 'mapValue':
      return new Map(k.value.entries.map((e: Msg) => [toInput(e.key), toInput(e.value)]))
    case 'objectValue': {
      const m = anyUnpack(k.value, registry) as Msg
      if (m.$typeName === 'google.protobuf.Timestamp')
        return new Date(Number(m.seconds) * 1000 + Math.floor(m.nanos / 1e6))
      if (m.$typeName === 'google.protobuf.Duration') return new Duration(BigInt(m.seconds), m.nanos)
      throw new ProtoDependent(m.$typeName)
    }
    default:
      throw new ProtoDependent(k.case)
  }
}
function norm(v: unknown): Norm {
  if (v === null) return { t: 'null' }
  switch (typeof v) {
    case 'boolean':
      return { t: 'bool', v }
    case 'bigint':
      return { t: 'int', v }
    case 'number':
      return { t: 'double', v }
    case 'string':
      return { t: 'string', v }
  }
  if (v instanceof UnsignedInt) return { t: 'uint', v: BigInt(v.valueOf() as bigint) }
  if (v instanceof Uint8Array) return { t: 'bytes', v: hex(v) }
  if (Array.isArray(v)) return { t: 'list', v: v.map(norm) }
  if (v instanceof Map) return { t: 'map', v: [...v].map(([a, b]) => [norm(a), norm(b)]) }
  if (v instanceof Date) return { t: 'timestamp', v: BigInt(v.getTime()) * 1_000_000n }
  if (v instanceof Duration) return { t: 'duration', v: BigInt(v.seconds) * 1_000_000_000n + BigInt(v.nanos) }
  const o = v as { constructor?: { name?: string }; name?: string }
  if (o?.constructor?.name === 'Type') return { t: 'type', v: o.name }
  if (o?.constructor === Object)
    return { t: 'map', v: Object.entries(v as object).map(([a, b]) => [{ t: 'jskey', v: a }, norm(b)]) }
  return { t: `other:${o?.constructor?.name}` }
}
function eq(a: Norm, b: Norm): boolean {
  if (a.t !== b.t) {
    if (a.t === 'jskey' || b.t === 'jskey') {
      const [x, y] = a.t === 'jskey' ? [a, b] : [b, a]
      return ['string', 'int', 'uint', 'bool'].includes(y.t) && x.v === String(y.v)
    }
    return false
  }
  switch (a.t) {
    case 'null':
      return true
    case 'double':
      return a.v === b.v || (Number.isNaN(a.v) && Number.isNaN(b.v))
    case 'list': {
      const x = a.v as Norm[]
      const y = b.v as Norm[]
      return x.length === y.length && x.every((e, i) => eq(e, y[i]))
    }
    case 'map': {
      const x = a.v as [Norm, Norm][]
      const y = b.v as [Norm, Norm][]
      return x.length === y.length && x.every(([k, v]) => y.some(([k2, v2]) => eq(k, k2) && eq(v, v2)))
    }
    default:
      return a.v === b.v
  }
}

const PROTO_RE =
  /TestAllTypes|NestedTestAllTypes|NestedMessage|NestedEnum|GlobalEnum|google\.protobuf\.|cel\.expr\.conformance|\bproto[23]\b/
function classify(t: Msg): 'check-only' | 'unknowns' | 'proto' | 'run' {
  if (t.resultMatcher.case === 'typedResult' || t.checkOnly) return 'check-only'
  if (t.resultMatcher.case === 'unknown' || t.resultMatcher.case === 'anyUnknowns') return 'unknowns'
  if (PROTO_RE.test(t.expr) || t.container) return 'proto'
  if (
    t.typeEnv.some(
      (d: Msg) => d.declKind.case === 'ident' && d.declKind.value.type?.typeKind.case === 'messageType',
    )
  )
    return 'proto'
  try {
    if (t.resultMatcher.case === 'value') valueToNorm(t.resultMatcher.value)
    for (const b of Object.values(t.bindings) as Msg[]) if (b.kind.case === 'value') toInput(b.kind.value)
  } catch (e) {
    if (e instanceof ProtoDependent) return 'proto'
    throw e
  }
  return 'run'
}

const env = createDynEnvironment({ homogeneousAggregateLiterals: false, enableOptionalTypes: true })

function runOne(t: Msg): boolean {
  const mc = t.resultMatcher.case
  const expectsError = mc === 'evalError' || mc === 'anyEvalErrors'
  const bindings: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(t.bindings) as [string, Msg][]) bindings[k] = toInput(v.kind.value)
  const compiled = compileExpression(env, t.expr, 'any')
  if (!compiled.ok) return expectsError
  let result: unknown
  try {
    result = compiled.fn(bindings)
    if (result instanceof Promise) return false
  } catch {
    return expectsError
  }
  if (expectsError) return false
  const expected = mc === 'value' ? valueToNorm(t.resultMatcher.value) : { t: 'bool', v: true }
  return eq(expected, norm(result))
}

describe('cel-spec conformance (core, non-protobuf) through the Warden wrapper', () => {
  it(`passes at least ${PASS_FLOOR} tests`, () => {
    const perFile: Record<string, { pass: number; total: number }> = {}
    const failures: string[] = []
    for (const file of getConformanceSuite().suites) {
      if (!CORE.includes(file.name)) continue
      const rec = { pass: 0, total: 0 }
      perFile[file.name] = rec
      const walk = (s: Msg, path: string[]) => {
        for (const sub of s.suites) walk(sub, [...path, sub.name])
        for (const it of s.tests) {
          const t = it.original
          if (classify(t) !== 'run') continue
          rec.total++
          let ok = false
          try {
            ok = runOne(t)
          } catch {
            ok = false
          }
          if (ok) rec.pass++
          else failures.push(`${file.name}/${[...path, t.name].join('/')}: ${t.expr.slice(0, 80)}`)
        }
      }
      walk(file, [])
    }
    const pass = Object.values(perFile).reduce((a, r) => a + r.pass, 0)
    const total = Object.values(perFile).reduce((a, r) => a + r.total, 0)
    // Printed so the README's rate can be refreshed: see packages/policy/README.md, "Conformance".
    console.log(
      `cel-spec core conformance: ${pass}/${total} (${((100 * pass) / total).toFixed(1)}%)\n` +
        Object.entries(perFile)
          .map(([f, r]) => `  ${f}: ${r.pass}/${r.total}`)
          .join('\n'),
    )
    expect(total).toBeGreaterThan(1000) // the suite really ran
    expect(pass).toBeGreaterThanOrEqual(PASS_FLOOR)
  })
})
