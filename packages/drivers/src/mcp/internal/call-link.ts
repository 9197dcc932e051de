// The id a guarded MCP client sends in a call's `_meta` and records as `facts.call`, and a guarded
// server records too: the two records of one call share it (they link; neither is a second call).
import { randomUUID } from 'node:crypto'

export const CALL_META_KEY = 'warden/call'

export function newCallId(): string {
  return randomUUID()
}

/** The id a guarded client sent, if any (a string of sane length; anything else is ignored). */
export function linkedCallId(meta: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const id = meta?.[CALL_META_KEY]
  return typeof id === 'string' && id.length > 0 && id.length <= 128 ? id : undefined
}
