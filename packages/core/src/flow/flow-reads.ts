// What a command reads, as flow keys: `kind:name` of the resource and `kind:name/<thing>` for the
// table, host, Kubernetes resource, file or tool it read. Core-internal.
import type { ResourceRef } from '@warden/policy'
import type { Command } from '../session.js'

const NONE: readonly string[] = Object.freeze([])
const KUBE_READS: ReadonlySet<string> = new Set(['kube.get', 'kube.list', 'kube.watch', 'kube.reveal'])
const HTTP_READS: ReadonlySet<string> = new Set(['GET', 'HEAD'])

// Describer facts are cached by text and shared, so the keys of one (facts, resource) are built once.
const cache = new WeakMap<object, { readonly base: string; readonly keys: readonly string[] }>()

/** The flow keys a command reads (empty for writes, shells, forwards and other non-read actions). */
export function flowReads(command: Command, resource: ResourceRef): readonly string[] {
  const action = command.action
  let facts: object | undefined
  if (action === 'sql.query') {
    // a statement that reads no table (SELECT 1, SET) reads nothing from the resource
    if (sqlReads(command).length === 0) return NONE
    facts = command.sql
  } else if (action === 'tool.call') facts = command.tool
  else if (action === 'http.request') {
    if (!HTTP_READS.has(command.http?.method ?? '')) return NONE
    facts = command.http
  } else if (action === 'sftp.read') facts = command.sftp
  else if (KUBE_READS.has(action)) facts = command.kube
  else return NONE
  const base = `${resource.kind}:${resource.name}`
  if (facts === undefined || facts === null || typeof facts !== 'object') return Object.freeze([base])
  const hit = cache.get(facts)
  if (hit !== undefined && hit.base === base) return hit.keys
  const keys: string[] = [base]
  for (const thing of things(command)) if (thing !== '') keys.push(`${base}/${thing}`)
  const frozen = Object.freeze(keys)
  cache.set(facts, { base, keys: frozen })
  return frozen
}

// Facts come from drivers and tools (and plain JavaScript): a partial object is valid input, which
// `decide` completes with empty fields, so a missing list here is empty, never a TypeError after
// the command ran. (A field of the wrong type never gets here: `decide` denies it.)
function sqlReads(command: Command): readonly string[] {
  const reads = (command.sql as { reads?: unknown } | null | undefined)?.reads
  return Array.isArray(reads) ? reads : NONE
}

function things(command: Command): readonly string[] {
  if (command.action === 'sql.query') return sqlReads(command)
  if (command.action === 'tool.call') return [command.tool?.name ?? '']
  if (command.action === 'http.request') return [command.http?.host ?? '']
  if (command.action === 'sftp.read') return [command.sftp?.path ?? '']
  const kube = command.kube
  if (kube === undefined || kube === null || typeof kube.resource !== 'string' || kube.resource === '')
    return NONE
  return [kube.subresource ? `${kube.resource}/${kube.subresource}` : kube.resource]
}
