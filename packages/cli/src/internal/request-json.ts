import type { RequestInput } from '@warden/policy'
import { CliError } from './cli-error.js'

function toDate(value: unknown, field: string): Date | undefined {
  if (value === undefined || value === null) return undefined
  const date = new Date(value as string | number)
  if (typeof value === 'boolean' || Number.isNaN(date.getTime())) {
    throw new CliError(`request field "${field}" is not a timestamp: ${JSON.stringify(value)}`, 2)
  }
  return date
}

/**
 * A request as JSON (from --request or an audit record's `request`) back into a RequestInput:
 * timestamps travel as ISO strings and become Dates again. Everything else is passed as is;
 * the policy completes missing fields and its own checks reject wrong types.
 */
export function reviveRequest(json: unknown, where = 'request'): RequestInput {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new CliError(`${where} must be a JSON object`, 2)
  }
  const request = { ...(json as Record<string, unknown>) }
  const now = toDate(request.now, 'now')
  if (now !== undefined) request.now = now
  else delete request.now
  const session = request.session
  if (session !== null && typeof session === 'object' && !Array.isArray(session)) {
    const revived = { ...(session as Record<string, unknown>) }
    const startedAt = toDate(revived.startedAt, 'session.startedAt')
    if (startedAt !== undefined) revived.startedAt = startedAt
    else delete revived.startedAt
    request.session = revived
  }
  return request as RequestInput
}
