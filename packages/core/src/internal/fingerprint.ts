import { createHash } from 'node:crypto'

/**
 * The operation an approval is bound to: sha256 over resource kind:name, action and the command
 * text with line endings normalized and outer whitespace trimmed. Inner whitespace is kept on
 * purpose: it can be significant (string literals, heredocs), so two texts differing there are two
 * operations.
 */
export function fingerprint(kind: string, name: string, action: string, text: string): string {
  const normalized = text.replace(/\r\n?/g, '\n').trim()
  return `sha256:${createHash('sha256').update(`${kind}:${name}\n${action}\n${normalized}`).digest('hex')}`
}
