// Reverses the `tokenize` strategy for someone who holds the masking key (an offline tool, a
// support workflow). Throws ERR_WARDEN_MASKING for a token not made with this key, or altered.

import { WardenTypeError } from '@warden/policy'
import type { Secret } from '../secret.js'
import { deriveKeys, keyMaterial, openToken } from './internal/keys.js'

export function detokenize(token: string, key: string | Secret): string {
  const material = keyMaterial(key, 'detokenize')
  if (material === undefined) throw new WardenTypeError('detokenize: "key" is required')
  return openToken(deriveKeys(material), token)
}
