// Completes a partial request into the typed CEL context, once per decide().
// Missing parts become shared empty instances; frozen inputs (describer output, session
// principals) are converted once and cached by identity, so the hot path mostly does lookups.
import type { RequestInput } from '../request.js'
import { isDeepFrozenData } from './decision-cache.js'
import {
  type CelContext,
  CelFlow,
  CelForward,
  CelHttp,
  CelKube,
  CelKubeImpersonate,
  CelPrincipal,
  CelResource,
  CelSession,
  CelSftp,
  CelShell,
  CelShellCommand,
  CelSql,
  CelSqlStatement,
  CelTool,
} from './request-types.js'

/** A request field of the wrong JS type; decide() turns it into a deny. */
export class RequestShapeError extends Error {
  constructor(readonly field: string) {
    super(`request field "${field}" has the wrong type`)
  }
}

const EMPTY_LIST: readonly never[] = Object.freeze([])
const EMPTY_MAP: Readonly<Record<string, never>> = Object.freeze({})
const EPOCH = new Date(0)
const EMPTY_IMPERSONATE = new CelKubeImpersonate('', EMPTY_LIST, '', EMPTY_MAP)

const str = (v: unknown, field: string): string => {
  if (typeof v === 'string') return v
  if (v === undefined || v === null) return ''
  throw new RequestShapeError(field)
}
const bool = (v: unknown, field: string): boolean => {
  if (typeof v === 'boolean') return v
  if (v === undefined || v === null) return false
  throw new RequestShapeError(field)
}
const int = (v: unknown, field: string): bigint => {
  if (typeof v === 'bigint') return v
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v)
  if (v === undefined || v === null) return 0n
  throw new RequestShapeError(field)
}
const strList = (v: unknown, field: string): readonly string[] => {
  if (v === undefined || v === null) return EMPTY_LIST
  if (!Array.isArray(v)) throw new RequestShapeError(field)
  for (let i = 0; i < v.length; i++)
    if (typeof v[i] !== 'string') throw new RequestShapeError(`${field}[${i}]`)
  return v
}
const strMap = (v: unknown, field: string): Readonly<Record<string, string>> => {
  if (v === undefined || v === null) return EMPTY_MAP
  if (typeof v !== 'object' || Array.isArray(v)) throw new RequestShapeError(field)
  for (const k in v)
    if (typeof (v as Record<string, unknown>)[k] !== 'string') throw new RequestShapeError(`${field}.${k}`)
  return v as Record<string, string>
}
const time = (v: unknown, field: string): Date => {
  if (v instanceof Date && !Number.isNaN(v.getTime())) return v
  if (v === undefined || v === null) return EPOCH
  throw new RequestShapeError(field)
}
const obj = (v: unknown, field: string): Record<string, unknown> | undefined => {
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'object' || Array.isArray(v)) throw new RequestShapeError(field)
  return v as Record<string, unknown>
}

/**
 * JSON-ish values as CEL sees them: integral numbers become int (BigInt) so `claims.level + 1`
 * works; other numbers stay double. Arrays and plain objects are converted deeply.
 */
export function toCelValue(v: unknown, depth = 0): unknown {
  if (depth > 32) throw new RequestShapeError('value nesting')
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) ? BigInt(v) : v
    case 'string':
    case 'boolean':
    case 'bigint':
      return v
    case 'object': {
      if (v === null || v instanceof Date || v instanceof Uint8Array) return v
      if (Array.isArray(v)) return v.map((x) => toCelValue(x, depth + 1))
      const out: Record<string, unknown> = {}
      for (const k of Object.keys(v)) {
        const x = (v as Record<string, unknown>)[k]
        if (x !== undefined) out[k] = toCelValue(x, depth + 1)
      }
      return out
    }
    default:
      return null
  }
}

// Cache per input object, only when deep-frozen plain data (so it cannot change under the cache:
// a shallow freeze leaves nested claims and getters free to change).
function cached<I extends object, O>(cache: WeakMap<I, O>, input: I, build: (i: I) => O): O {
  if (!isDeepFrozenData(input)) return build(input)
  let out = cache.get(input)
  if (out === undefined) {
    out = build(input)
    cache.set(input, out)
  }
  return out
}

const dynMapCache = new WeakMap<object, Readonly<Record<string, unknown>>>()
const dynMap = (v: unknown, field: string): Readonly<Record<string, unknown>> => {
  const o = obj(v, field)
  if (o === undefined) return EMPTY_MAP
  return cached(dynMapCache, o, (x) => toCelValue(x) as Record<string, unknown>)
}

export const EMPTY = {
  principal: new CelPrincipal('', '', EMPTY_LIST, EMPTY_MAP, ''),
  resource: new CelResource('', '', EMPTY_MAP),
  sql: new CelSql(
    '',
    EMPTY_LIST,
    EMPTY_LIST,
    EMPTY_LIST,
    EMPTY_LIST,
    EMPTY_LIST,
    false,
    false,
    EMPTY_LIST,
    EMPTY_LIST,
    false,
    '',
    EMPTY_LIST,
  ),
  shell: new CelShell('', EMPTY_LIST, EMPTY_LIST, EMPTY_LIST, false, ''),
  sftp: new CelSftp('', ''),
  forward: new CelForward('', 0n),
  kube: new CelKube('', '', '', '', '', '', '', EMPTY_LIST, '', false, EMPTY_IMPERSONATE),
  http: new CelHttp('', '', '', '', EMPTY_MAP, EMPTY_MAP, '', ''),
  tool: new CelTool('', EMPTY_MAP),
  session: new CelSession('', EPOCH, 0n),
  flow: new CelFlow(EMPTY_LIST, EMPTY_LIST),
} as const

const principalCache = new WeakMap<object, CelPrincipal>()
const principal = (o: Record<string, unknown>) =>
  new CelPrincipal(
    str(o.id, 'principal.id'),
    str(o.type, 'principal.type'),
    strList(o.groups, 'principal.groups'),
    dynMap(o.claims, 'principal.claims'),
    str(o.issuer, 'principal.issuer'),
  )
const resourceCache = new WeakMap<object, CelResource>()
const resource = (o: Record<string, unknown>) =>
  new CelResource(
    str(o.kind, 'resource.kind'),
    str(o.name, 'resource.name'),
    strMap(o.labels, 'resource.labels'),
  )

const statement = (v: unknown, i: number) => {
  const o = obj(v, `sql.statements[${i}]`) ?? {}
  return new CelSqlStatement(
    str(o.type, 'sql.statements.type'),
    strList(o.reads, 'sql.statements.reads'),
    strList(o.writes, 'sql.statements.writes'),
    o.where === undefined ? true : bool(o.where, 'sql.statements.where'),
    strList(o.functions, 'sql.statements.functions'),
  )
}
const sqlCache = new WeakMap<object, CelSql>()
const sql = (o: Record<string, unknown>) => {
  const s = o.statements
  if (s !== undefined && s !== null && !Array.isArray(s)) throw new RequestShapeError('sql.statements')
  return new CelSql(
    str(o.text, 'sql.text'),
    s ? (s as unknown[]).map(statement) : EMPTY_LIST,
    strList(o.types, 'sql.types'),
    strList(o.reads, 'sql.reads'),
    strList(o.writes, 'sql.writes'),
    strList(o.tables, 'sql.tables'),
    bool(o.write, 'sql.write'),
    bool(o.unbounded, 'sql.unbounded'),
    strList(o.functions, 'sql.functions'),
    strList(o.flags, 'sql.flags'),
    bool(o.parsed, 'sql.parsed'),
    str(o.error, 'sql.error'),
    strList(o.effects, 'sql.effects'),
  )
}
const shellCache = new WeakMap<object, CelShell>()
const shell = (o: Record<string, unknown>) => {
  const c = o.commands
  if (c !== undefined && c !== null && !Array.isArray(c)) throw new RequestShapeError('shell.commands')
  return new CelShell(
    str(o.text, 'shell.text'),
    c
      ? (c as unknown[]).map((v, i) => {
          const x = obj(v, `shell.commands[${i}]`) ?? {}
          return new CelShellCommand(
            str(x.name, 'shell.commands.name'),
            strList(x.argv, 'shell.commands.argv'),
          )
        })
      : EMPTY_LIST,
    strList(o.programs, 'shell.programs'),
    strList(o.flags, 'shell.flags'),
    bool(o.parsed, 'shell.parsed'),
    str(o.error, 'shell.error'),
  )
}
const kubeCache = new WeakMap<object, CelKube>()
const kube = (o: Record<string, unknown>) =>
  new CelKube(
    str(o.verb, 'kube.verb'),
    str(o.group, 'kube.group'),
    str(o.version, 'kube.version'),
    str(o.resource, 'kube.resource'),
    str(o.subresource, 'kube.subresource'),
    str(o.namespace, 'kube.namespace'),
    str(o.name, 'kube.name'),
    strList(o.command, 'kube.command'),
    str(o.container, 'kube.container'),
    bool(o.dryRun, 'kube.dryRun'),
    impersonate(obj(o.impersonate, 'kube.impersonate')),
  )
const impersonate = (o: Record<string, unknown> | undefined): CelKubeImpersonate => {
  if (o === undefined) return EMPTY_IMPERSONATE
  const extras = obj(o.extras, 'kube.impersonate.extras') ?? EMPTY_MAP
  for (const k in extras) strList(extras[k], `kube.impersonate.extras.${k}`)
  return new CelKubeImpersonate(
    str(o.user, 'kube.impersonate.user'),
    strList(o.groups, 'kube.impersonate.groups'),
    str(o.uid, 'kube.impersonate.uid'),
    extras as Readonly<Record<string, readonly string[]>>,
  )
}
const httpCache = new WeakMap<object, CelHttp>()
const http = (o: Record<string, unknown>) =>
  new CelHttp(
    str(o.method, 'http.method'),
    str(o.url, 'http.url'),
    str(o.host, 'http.host'),
    str(o.path, 'http.path'),
    strMap(o.query, 'http.query'),
    strMap(o.headers, 'http.headers'),
    // Absent (a hand-written request): the method sent is the method.
    o.wireMethod === undefined ? str(o.method, 'http.method') : str(o.wireMethod, 'http.wireMethod'),
    str(o.methodOverride, 'http.methodOverride'),
  )
const toolCache = new WeakMap<object, CelTool>()
const tool = (o: Record<string, unknown>) =>
  new CelTool(str(o.name, 'tool.name'), dynMap(o.args, 'tool.args'))

function part<T>(
  v: unknown,
  field: string,
  empty: T,
  cache: WeakMap<object, T> | undefined,
  build: (o: Record<string, unknown>) => T,
  ctor: abstract new (...args: never[]) => T,
): T {
  if (v === undefined || v === null) return empty
  if (v instanceof ctor) return v
  const o = obj(v, field) as Record<string, unknown>
  return cache ? cached(cache, o, build) : build(o)
}

/** Builds the CEL context; throws RequestShapeError for a field of the wrong type. */
export function completeRequest(input: RequestInput | undefined, now: () => Date): CelContext {
  const r = (input ?? {}) as Record<string, unknown>
  const s = obj(r.session, 'session')
  const f = obj(r.flow, 'flow')
  const sf = obj(r.sftp, 'sftp')
  const fw = obj(r.forward, 'forward')
  return {
    principal: part(r.principal, 'principal', EMPTY.principal, principalCache, principal, CelPrincipal),
    resource: part(r.resource, 'resource', EMPTY.resource, resourceCache, resource, CelResource),
    action: str(r.action, 'action'),
    sql: part(r.sql, 'sql', EMPTY.sql, sqlCache, sql, CelSql),
    shell: part(r.shell, 'shell', EMPTY.shell, shellCache, shell, CelShell),
    sftp: sf ? new CelSftp(str(sf.op, 'sftp.op'), str(sf.path, 'sftp.path')) : EMPTY.sftp,
    forward: fw ? new CelForward(str(fw.host, 'forward.host'), int(fw.port, 'forward.port')) : EMPTY.forward,
    kube: part(r.kube, 'kube', EMPTY.kube, kubeCache, kube, CelKube),
    http: part(r.http, 'http', EMPTY.http, httpCache, http, CelHttp),
    tool: part(r.tool, 'tool', EMPTY.tool, toolCache, tool, CelTool),
    session: s
      ? new CelSession(
          str(s.id, 'session.id'),
          time(s.startedAt, 'session.startedAt'),
          int(s.operations, 'session.operations'),
        )
      : EMPTY.session,
    flow: f ? new CelFlow(strList(f.reads, 'flow.reads'), strList(f.tags, 'flow.tags')) : EMPTY.flow,
    now: r.now === undefined ? now() : time(r.now, 'now'),
  }
}
