// Puts a broker credential on request headers, right before the request leaves. The only place /fetch reveals.
import { type Credential, revealSecret } from '@warden/core'
import { WardenError } from '@warden/policy'

export function applyCredential(headers: Headers, credential: Credential): void {
  switch (credential.type) {
    case 'token':
      headers.set('authorization', `Bearer ${revealSecret(credential.token)}`)
      return
    case 'headers':
      for (const [name, value] of Object.entries(credential.headers)) headers.set(name, revealSecret(value))
      return
    case 'password':
      headers.set(
        'authorization',
        `Basic ${Buffer.from(`${credential.username}:${revealSecret(credential.password)}`).toString('base64')}`,
      )
      return
    case 'ssh':
      throw new WardenError(
        'ERR_WARDEN_BROKER',
        'the broker issued an ssh credential for an http resource; expected token, headers or password',
      )
  }
}

/** Names of the headers a credential sets (so facts of later hops never show them). */
export function credentialHeaderNames(credential: Credential): string[] {
  return credential.type === 'headers'
    ? Object.keys(credential.headers).map((h) => h.toLowerCase())
    : ['authorization']
}

/**
 * Every value `credential` puts on a request (the header values and the raw secrets in them, also
 * JSON-escaped), longest first; very short values are left out (they would mangle ordinary text and are
 * no real credential).
 */
export function credentialNeedles(credential: Credential): string[] {
  const headers = new Headers()
  applyCredential(headers, credential)
  const values = new Set<string>()
  for (const [, v] of headers) values.add(v)
  if (credential.type === 'token') values.add(revealSecret(credential.token))
  if (credential.type === 'password') values.add(revealSecret(credential.password))
  for (const v of [...values]) values.add(JSON.stringify(v).slice(1, -1))
  return [...values].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length)
}

/** A function replacing every credential needle with `[secret]`, or undefined when it injects nothing. */
export function credentialScrubber(credential: Credential): ((text: string) => string) | undefined {
  return textScrubber(credentialNeedles(credential))
}

export function textScrubber(needles: readonly string[]): ((text: string) => string) | undefined {
  // Longest first, so "Bearer X" is replaced whole before X.
  if (needles.length === 0) return undefined
  return (text) => {
    let out = text
    for (const n of needles) if (out.includes(n)) out = out.split(n).join('[secret]')
    return out
  }
}
