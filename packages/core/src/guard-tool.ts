import {
  type Action,
  type Decision,
  type HttpFacts,
  type ToolFacts,
  WardenError,
  type WardenErrorCode,
  WardenTypeError,
} from '@warden/policy'
import type { Approver } from './approval/approver.js'
import { runInChildChain } from './flow/flow-chain.js'
import { ambient } from './internal/ambient.js'
import type { Command, ExecuteContext, Session, SessionSource } from './session.js'

/**
 * What a tool call is, for policy: by default a `tool.call` with `{name, args}`; a tool that runs
 * SQL, a shell command or an HTTP request returns those facts instead, so the same policies apply.
 */
export interface ToolDescription {
  /** Default: the guard's `resource`. */
  readonly resource?: Command['resource']
  /** Default: `sql.query` with `sql`, `ssh.exec` with `shell`, `http.request` with `http`, else `tool.call`. */
  readonly action?: Action
  /** Audited and fingerprinted text. Default: the SQL/shell text, `METHOD url`, or `name {args}`. */
  readonly text?: string
  readonly sql?: Command['sql']
  readonly shell?: Command['shell']
  readonly http?: HttpFacts
  readonly kube?: Command['kube']
  readonly sftp?: Command['sftp']
  readonly preview?: Command['preview']
}

export interface GuardToolOptions<A, X extends unknown[] = []> {
  /** What policies match on: a tool resource name (`kind: tool`) or a full resource. */
  readonly resource: string | Command['resource']
  /** `tool.name` for policies and the audit trail. Default: the function's name. */
  readonly name?: string
  /** Describes a call from its arguments. Default: `tool.call` facts. May be async (parsers load once). */
  readonly describe?: (args: A, ...rest: X) => ToolDescription | Promise<ToolDescription>
  /**
   * Who approves an `approve` decision for this call, instead of the Warden's approver: an agent
   * framework's own approval step. Return undefined to use the Warden's.
   */
  readonly approver?: Approver | ((args: A, ...rest: X) => Approver | undefined)
  /**
   * An id shared with the record of the same call on another guard (an MCP client and its server),
   * recorded as `facts.call`, so the two records link instead of reading as two calls.
   */
  readonly link?: (args: A, ...rest: X) => string | undefined
}

/** Codes that come back to the model as a refusal instead of an exception. */
export type ToolRefusalCode =
  | 'ERR_WARDEN_DENIED'
  | 'ERR_WARDEN_APPROVAL_REJECTED'
  | 'ERR_WARDEN_APPROVAL_EXPIRED'
  | 'ERR_WARDEN_APPROVAL_MISMATCH'

/** A refused tool call, as the model sees it: plain JSON, with a message meant for the model. */
export interface ToolRefusal {
  readonly denied: true
  readonly code: ToolRefusalCode
  readonly tool: string
  /** The policy rule that decided (`default` when none matched). */
  readonly rule: string
  readonly reason: string
  /** What happened and what to do instead, addressed to the model. */
  readonly message: string
}

/** A guarded tool function: the original's signature, resolving to its (masked) result or a refusal. */
export interface GuardedTool<A, R, X extends unknown[] = []> {
  (args: A, ...rest: X): Promise<R | ToolRefusal>
  /**
   * What policy would decide for this call now, without running or auditing it: for a framework's
   * own approval step (`approve` ⇒ ask the user) or to hide tools a principal may not use.
   */
  check(args: A, ...rest: X): Promise<Decision>
}

const REFUSALS: ReadonlySet<WardenErrorCode> = new Set<ToolRefusalCode>([
  'ERR_WARDEN_DENIED',
  'ERR_WARDEN_APPROVAL_REJECTED',
  'ERR_WARDEN_APPROVAL_EXPIRED',
  'ERR_WARDEN_APPROVAL_MISMATCH',
])

/**
 * Guards any async tool function an agent calls: each call is described (tool facts, or SQL/shell/HTTP
 * facts via `describe`), decided, held for approval when policy says so, run, masked before the model
 * sees the result, and audited with the tool name. A denial resolves to a {@link ToolRefusal}, not an
 * exception, so the model can read it and change course. Each call is a data-flow chain of its own,
 * nested in the enclosing `session.run` when there is one.
 * Exported from `@warden/core`. Rejects with `ERR_WARDEN_NO_SESSION`, `ERR_WARDEN_DESCRIBE`,
 * `ERR_WARDEN_AUDIT`, `ERR_WARDEN_CONFIG`, or the tool's own error.
 * @example
 * const searchOrders = guardTool(warden, async ({ q }: { q: string }) => db.search(q), { resource: 'support-bot', name: 'search_orders' })
 * const result = await searchOrders({ q: 'late' })   // result or { denied: true, rule, reason, message }
 */
export function guardTool<A, R, X extends unknown[] = []>(
  source: SessionSource,
  tool: (args: A, ...rest: X) => Promise<R> | R,
  options: GuardToolOptions<A, X>,
): GuardedTool<A, R, X> {
  if (typeof source?.current !== 'function')
    throw new WardenTypeError('guardTool: the first argument must be a Session or the Warden')
  if (typeof tool !== 'function') throw new WardenTypeError('guardTool: "tool" must be a function')
  if (options === null || typeof options !== 'object')
    throw new WardenTypeError('guardTool: options with "resource" are required')
  const resource = resourceOf(options.resource)
  const name = options.name ?? tool.name
  if (typeof name !== 'string' || name === '')
    throw new WardenTypeError('guardTool: "name" is required for an anonymous function')
  const describe = options.describe
  if (describe !== undefined && typeof describe !== 'function')
    throw new WardenTypeError('guardTool: "describe" must be a function')
  const approverOption = options.approver
  const link = options.link
  if (link !== undefined && typeof link !== 'function')
    throw new WardenTypeError('guardTool: "link" must be a function')
  if (
    approverOption !== undefined &&
    typeof approverOption !== 'function' &&
    typeof approverOption?.request !== 'function'
  ) {
    throw new WardenTypeError('guardTool: "approver" must be an Approver or a function returning one')
  }

  const guarded = async (live: A, ...rest: X): Promise<R | ToolRefusal> => {
    // What is decided, shown to an approver, recorded and run is this copy, taken now: nothing the
    // caller changes later (or a getter answers the second time) reaches the tool.
    const args = snapshotArgs(name, live)
    const session = source.current()
    // The call's chain starts now: it sees what its parent saw at the time of the call, not what
    // a sibling running in parallel reads meanwhile. The session is ambient inside the call, so
    // clients built with the Warden (`new Pool(warden, ...)`) run as this session.
    return ambient.run(session, () => runInChildChain(session, () => guardedCall(session, args, rest)))
  }
  const check = async (live: A, ...rest: X): Promise<Decision> => {
    const args = snapshotArgs(name, live)
    const session = source.current()
    return session.check(
      await commandOf(
        name,
        resource,
        args,
        describe === undefined ? undefined : () => describe(args, ...rest),
        link?.(args, ...rest),
      ),
    )
  }
  return Object.assign(guarded, { check })

  async function guardedCall(session: Session, args: A, rest: X): Promise<R | ToolRefusal> {
    const command = await commandOf(
      name,
      resource,
      args,
      describe === undefined ? undefined : () => describe(args, ...rest),
      link?.(args, ...rest),
    )
    const approver =
      approverOption === undefined
        ? undefined
        : typeof approverOption === 'function'
          ? approverOption(args, ...rest)
          : approverOption
    const run = async (context: ExecuteContext): Promise<R> => {
      const out = await tool(args, ...rest)
      if (Array.isArray(out)) context.rows(out.length)
      return (context.masker === null ? out : context.masker.json(out)) as R
    }
    try {
      return await session.execute(command, run, approver === undefined ? undefined : { approver })
    } catch (err) {
      const refusal = toolRefusal(err, name, session, command)
      if (refusal === undefined) throw err
      return refusal
    }
  }
}

/**
 * A deep, frozen copy of a call's arguments (structured clone: getters read once, prototypes and
 * functions dropped). Arguments that cannot be copied are refused: what runs must be what was decided.
 */
function snapshotArgs<A>(tool: string, args: A): A {
  if (args === null || typeof args !== 'object') return args
  let copy: A
  try {
    copy = structuredClone(args)
  } catch (err) {
    throw new WardenTypeError(
      `guardTool: the arguments of ${tool} must be plain data (JSON-like values, Dates, Maps, typed arrays) so that what runs is what was decided: ${(err as Error).message}`,
    )
  }
  return deepFreeze(copy)
}

function deepFreeze<T>(value: T): T {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return value
  // Typed arrays cannot be frozen while they have elements; they are copies nobody else holds.
  if (ArrayBuffer.isView(value)) return value
  Object.freeze(value)
  const children =
    value instanceof Map
      ? [...value.keys(), ...value.values()]
      : value instanceof Set
        ? [...value]
        : Object.values(value)
  for (const child of children) deepFreeze(child)
  return value
}

/** True for the refusal object a guarded tool resolves to when it did not run. Exported from `@warden/core`. */
export function isToolRefusal(value: unknown): value is ToolRefusal {
  return (
    value !== null &&
    typeof value === 'object' &&
    (value as ToolRefusal).denied === true &&
    typeof (value as ToolRefusal).code === 'string' &&
    typeof (value as ToolRefusal).message === 'string'
  )
}

function resourceOf(resource: GuardToolOptions<unknown>['resource']): Command['resource'] {
  if (typeof resource === 'string' && resource !== '') return Object.freeze({ kind: 'tool', name: resource })
  if (
    resource !== null &&
    typeof resource === 'object' &&
    typeof resource.kind === 'string' &&
    typeof resource.name === 'string'
  ) {
    return Object.freeze({ ...resource })
  }
  throw new WardenTypeError('guardTool: "resource" must be a tool resource name or {kind, name}')
}

/** The tool facts of a call: arguments as a map (a non-object argument becomes `{input}`), frozen. */
function toolFacts(name: string, args: unknown, call: string | undefined): ToolFacts {
  const map =
    args !== null && typeof args === 'object' && !Array.isArray(args)
      ? (args as Record<string, unknown>)
      : args === undefined
        ? {}
        : { input: args }
  const facts = { name, args: Object.freeze({ ...map }) }
  return Object.freeze(typeof call === 'string' && call !== '' ? { ...facts, call } : facts)
}

async function commandOf(
  name: string,
  resource: Command['resource'],
  args: unknown,
  describe: (() => ToolDescription | Promise<ToolDescription>) | undefined,
  call: string | undefined,
): Promise<Command> {
  const tool = toolFacts(name, args, call)
  if (describe === undefined) return { resource, action: 'tool.call', text: toolText(tool), tool }
  let d: ToolDescription
  try {
    d = await describe()
  } catch (err) {
    if (err instanceof WardenError) throw err
    throw new WardenError(
      'ERR_WARDEN_DESCRIBE',
      `guardTool: describe() for ${name} failed: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    )
  }
  if (d === null || typeof d !== 'object')
    throw new WardenError(
      'ERR_WARDEN_DESCRIBE',
      `guardTool: describe() for ${name} must return a request object`,
    )
  const action: Action =
    d.action ?? (d.sql ? 'sql.query' : d.shell ? 'ssh.exec' : d.http ? 'http.request' : 'tool.call')
  const text =
    d.text ?? d.sql?.text ?? d.shell?.text ?? (d.http ? `${d.http.method} ${d.http.url}` : toolText(tool))
  // the tool facts ride along, so policies and the audit record always know which tool asked
  return {
    resource: d.resource ?? resource,
    action,
    text,
    tool,
    ...(d.sql && { sql: d.sql }),
    ...(d.shell && { shell: d.shell }),
    ...(d.http && { http: d.http }),
    ...(d.kube && { kube: d.kube }),
    ...(d.sftp && { sftp: d.sftp }),
    ...(d.preview && { preview: d.preview }),
  }
}

// `name {json}`: what the audit shows and the approval fingerprint binds (so the amount of a refund is part of it).
function toolText(tool: ToolFacts): string {
  let json: string
  try {
    json = JSON.stringify(tool.args, spelled)
  } catch (err) {
    // A cycle: the approver (and the fingerprint) would read "{}" while the tool got everything.
    throw new WardenTypeError(
      `guardTool: the arguments of ${tool.name} cannot be shown as text (${(err as Error).message}); pass a describe option or plain data without cycles`,
    )
  }
  return `${tool.name} ${json}`
}

/**
 * JSON for what JSON cannot spell, so the text an approver reads (and the fingerprint covers) says
 * what the tool gets: Maps and Sets by their entries, non-finite numbers and -0 by name, bytes as hex
 * (JSON alone shows {} or null for them).
 */
function spelled(_key: string, value: unknown): unknown {
  let v = value
  if (v instanceof Number || v instanceof String || v instanceof Boolean) v = v.valueOf()
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'number')
    return Number.isFinite(v) && !Object.is(v, -0) ? v : { $number: String(Object.is(v, -0) ? '-0' : v) }
  if (v instanceof Map) return { $Map: [...v.entries()] }
  if (v instanceof Set) return { $Set: [...v] }
  if (v instanceof RegExp) return { $RegExp: String(v) }
  if (v instanceof Error) return { $Error: `${v.name}: ${v.message}` }
  if (v instanceof ArrayBuffer) return { $bytes: Buffer.from(v).toString('hex') }
  if (ArrayBuffer.isView(v))
    return { $bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') }
  return v
}

function toolRefusal(
  err: unknown,
  tool: string,
  session: Session,
  command: Command,
): ToolRefusal | undefined {
  if (!(err instanceof WardenError) || !REFUSALS.has(err.code)) return undefined
  const code = err.code as ToolRefusalCode
  const denied = err as WardenError & { rule?: unknown; reason?: unknown }
  let rule = typeof denied.rule === 'string' ? denied.rule : ''
  let reason = typeof denied.reason === 'string' ? denied.reason : err.message
  if (code !== 'ERR_WARDEN_DENIED') {
    // An approval failure names the rule that held the call (WardenApprovalError); why the rule
    // wanted a human comes from policy (refusals are rare; the chain has not moved).
    const decision = session.check(command)
    if (rule === '') rule = decision.rule
    reason = `${decision.reason}; ${err.message}`
  } else if (rule === '') rule = session.check(command).rule
  return Object.freeze({
    denied: true as const,
    code,
    tool,
    rule,
    reason,
    message: refusalMessage(code, tool, rule, reason, err.message),
  })
}

function refusalMessage(
  code: ToolRefusalCode,
  tool: string,
  rule: string,
  reason: string,
  detail: string,
): string {
  const why = `(policy rule "${rule}")`
  switch (code) {
    case 'ERR_WARDEN_DENIED':
      return `The call to ${tool} was blocked by policy ${why}: ${reason}. It did not run. Do not retry it unchanged; try a different approach or tell the user it is not permitted.`
    case 'ERR_WARDEN_APPROVAL_REJECTED':
      return `The call to ${tool} needed human approval ${why} and was not approved: ${detail}. It did not run. Do not retry it unchanged.`
    case 'ERR_WARDEN_APPROVAL_EXPIRED':
      return `The call to ${tool} needed human approval ${why} and nobody approved it in time. It did not run. You may ask the user to approve it and try again later.`
    case 'ERR_WARDEN_APPROVAL_MISMATCH':
      return `The approval given does not match this exact call to ${tool} ${why}. It did not run. Ask for approval of the exact call.`
  }
}
