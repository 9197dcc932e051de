import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { AuditRecord } from '@warden/core'
import type { RequestInput } from '@warden/policy'
import { CliError } from './cli-error.js'
import { familyOf, replayRequest, replaySessions } from './replay-request.js'
import { reviveRequest } from './request-json.js'
import { readStdin, STDIN } from './stdin.js'
import { didYouMean } from './suggest.js'

/**
 * The text of a `--request` value: `-` (or `@-`) is stdin, `@path` a file, text starting with `{`
 * or `[` inline JSON, anything else a file path.
 */
export async function readRequestText(value: string, cwd: string): Promise<{ text: string; from: string }> {
  if (value === STDIN || value === '@-') return { text: await readStdin(), from: 'stdin' }
  if (/^\s*[{[]/.test(value)) return { text: value, from: '--request' }
  const file = value.startsWith('@') ? value.slice(1) : value
  try {
    return { text: await readFile(resolve(cwd, file), 'utf8'), from: file }
  } catch (error) {
    throw new CliError(
      `cannot read request file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`,
      2,
    )
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)

/** An audit log line (a command record) rather than a request: `v: 1`, a `seq` and a `hash`. */
export function isAuditRecord(json: unknown): json is AuditRecord {
  return isObject(json) && json.v === 1 && typeof json.seq === 'number' && typeof json.hash === 'string'
}

/**
 * A request from JSON: a request object, or a command record from an audit log (its principal,
 * resource and facts, at its recorded time). Fields the request model does not have are refused:
 * a policy would never see them, so the decision would silently ignore what the user meant.
 */
export async function parseRequest(text: string, from: string): Promise<RequestInput> {
  let json: unknown
  try {
    // an audit log may be piped whole: take its last line
    const lines = text.trim().split('\n')
    json = JSON.parse(lines.length > 1 && lines.every((l) => l.trim().startsWith('{')) ? lines.at(-1)! : text)
  } catch (error) {
    const what = from === '--request' ? '--request' : `the request in ${from}`
    throw new CliError(`${what} is not valid JSON: ${(error as Error).message}`, 2)
  }
  if (isAuditRecord(json)) return fromAuditRecord(json, from)
  const request = reviveRequest(json)
  const { requestFieldNames, unknownRequestFields } = await import('@warden/policy')
  const unknown = unknownRequestFields(request)
  if (unknown.length > 0) {
    const first = unknown[0]
    const dot = first.lastIndexOf('.')
    const part = dot < 0 ? undefined : first.slice(0, dot).replace(/\[\d+\]$/, '')
    // nested parts (sql.statements[0]) get no hint: the model lists only top-level parts' fields
    const names = part === undefined ? requestFieldNames() : part.includes('.') ? [] : requestFieldNames(part)
    const hint = didYouMean(first.slice(dot + 1), names, (n) => `"${part ? `${part}.` : ''}${n}"`)
    throw new CliError(
      `the request has field${unknown.length === 1 ? '' : 's'} the request model does not: ${unknown.map((u) => `"${u}"`).join(', ')}${hint} (see the request model in @warden/policy's README)`,
      2,
    )
  }
  return request
}

function fromAuditRecord(record: AuditRecord, from: string): RequestInput {
  const type = (record.type as string | undefined) ?? 'command'
  if (type !== 'command')
    throw new CliError(`the audit record (${from}) is a "${type}" record; give a command record`, 2)
  const replayed = replayRequest(record, replaySessions(), from)
  if (replayed !== undefined) return replayed
  // records written without `request`: what the record itself holds
  const family = familyOf(record.action ?? '')
  return reviveRequest({
    principal: record.principal,
    resource: record.resource,
    action: record.action,
    now: record.time,
    session: { id: record.session },
    ...(family && isObject(record.facts) ? { [family]: record.facts } : {}),
  })
}
