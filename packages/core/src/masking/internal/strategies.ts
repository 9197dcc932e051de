// The five strategies as functions of one value. Column rules apply them to whole cells,
// detectors to the matched part of a string.
import type { MaskStrategyName } from '@warden/policy'
import { hashValue, type MaskingKeys, tokenizeValue } from './keys.js'

export const REDACTED = '[redacted]'

/** Strongest first: when two rules mask the same column, the one that reveals less wins. */
export const STRENGTH = { null: 5, redact: 4, hash: 3, tokenize: 2, partial: 1 } as const satisfies Record<
  MaskStrategyName,
  number
>

export type StrategyFn = (value: unknown) => unknown

export function stringify(value: unknown): string {
  if (typeof value === 'string') return value
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
  if (typeof value === 'object' && value !== null) {
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? ''
  }
  return String(value)
}

/**
 * `fn(stringify(value))`, failing closed: a value that cannot be serialised (nested deeper than the
 * stack allows, cyclic, a throwing toJSON) is redacted whole, so masking never throws and never
 * passes the value through.
 */
function ofText(fn: (text: string) => string): StrategyFn {
  return (value) => {
    let text: string
    try {
      text = stringify(value)
    } catch {
      return REDACTED
    }
    return fn(text)
  }
}

const ALNUM = /[\p{L}\p{N}]/u
const isAlnum = (c: string): boolean => {
  const x = c.charCodeAt(0)
  if (x < 128) return (x >= 48 && x <= 57) || (x >= 65 && x <= 90) || (x >= 97 && x <= 122)
  return ALNUM.test(c)
}

/**
 * Keeps the last 4 letters/digits and the separators (so `123-45-6789` → `***-**-6789`), but only
 * when at least as many are hidden as shown: shorter values are fully starred. Emails keep the domain.
 */
export function partial(value: string): string {
  const at = value.lastIndexOf('@')
  if (at > 0 && at < value.length - 1 && value.indexOf('.', at) > at) return `***${value.slice(at)}`
  const chars = Array.from(value)
  let alnum = 0
  for (const c of chars) if (isAlnum(c)) alnum++
  let keep = alnum >= 8 ? 4 : 0
  for (let i = chars.length - 1; i >= 0; i--) {
    if (!isAlnum(chars[i])) continue
    if (keep > 0) keep--
    else chars[i] = '*'
  }
  return chars.join('')
}

export function strategyFn(name: MaskStrategyName, keys: MaskingKeys): StrategyFn {
  switch (name) {
    case 'redact':
      return () => REDACTED
    case 'null':
      return () => null
    case 'partial':
      return ofText(partial)
    case 'hash':
      return ofText((t) => hashValue(keys, t))
    case 'tokenize':
      return ofText((t) => tokenizeValue(keys, t))
  }
}

/** The same strategy inside free text, where `null` cannot remove a substring: it redacts. */
export function textStrategyFn(name: MaskStrategyName, keys: MaskingKeys): (value: string) => string {
  if (name === 'null') return () => REDACTED
  return strategyFn(name, keys) as (value: string) => string
}
