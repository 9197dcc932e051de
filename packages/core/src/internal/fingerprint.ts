import { createHash } from 'node:crypto'

/**
 * The operation an approval is bound to: sha256 over resource kind:name, action and the command
 * text with line endings normalized and outer whitespace trimmed. Inner whitespace is kept on
 * purpose: it can be significant (string literals, heredocs), so two texts differing there are two
 * operations.
 */
export function fingerprint(
  kind: string,
  name: string,
  action: string,
  text: string,
  parametersDigest?: string,
): string {
  const normalized = text.replace(/\r\n?/g, '\n').trim()
  // Bound values are part of the operation: `SET balance = $1` with 250 is not the one with -999999.
  const bound = parametersDigest === undefined ? '' : `\n${parametersDigest}`
  return `sha256:${createHash('sha256').update(`${kind}:${name}\n${action}\n${normalized}${bound}`).digest('hex')}`
}

/** What a bound value is, as text: strings as they are, bytes as `\\x` hex, anything else as JSON. */
export function parameterText(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'string') return value
  if (value instanceof Uint8Array)
    return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean')
    return String(value)
  try {
    return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) ?? String(value)
  } catch {
    return String(value)
  }
}

/** sha256 over the exact text of every bound value (the fingerprint's input). */
export function parametersDigest(texts: readonly (string | null)[]): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(texts)).digest('hex')}`
}
