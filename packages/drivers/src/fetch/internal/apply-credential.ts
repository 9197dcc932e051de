// Puts a broker credential on request headers, right before the request leaves. The only place /fetch reveals.
import { type Credential, revealSecret } from '@warden/core'
import { WardenError } from '@warden/policy'
import { echoNeedles, textScrubber } from '../../internal/credential-echo.js'

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

/** Every value `credential` puts on a request, and the raw secrets in them (see echoNeedles). */
export function credentialNeedles(credential: Credential): string[] {
  const headers = new Headers()
  applyCredential(headers, credential)
  const values = [...headers].map(([, v]) => v)
  if (credential.type === 'token') values.push(revealSecret(credential.token))
  if (credential.type === 'password') values.push(revealSecret(credential.password))
  return echoNeedles(values)
}

/** A function replacing every credential value with `[secret]`, or undefined when it injects nothing. */
export function credentialScrubber(credential: Credential): ((text: string) => string) | undefined {
  return textScrubber(credentialNeedles(credential))
}
