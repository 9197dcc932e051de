import {
  type ApprovalErrorCode,
  type Decider,
  type Decision,
  type FlowFacts,
  type MatchedRule,
  type Principal,
  type RequestInput,
  type ResourceRef,
  WardenApprovalError,
  WardenDeniedError,
  WardenError,
  WardenTypeError,
} from '@warden/policy'
import type { ApprovalOutcome, ApprovalPreview, ApprovalRequest, Approver } from '../approval/approver.js'
import { MAX_TIMER_MS } from '../approval/internal/approval-store.js'
import { sameName } from '../approval/internal/approver-rules.js'
import type { OutcomeStatus } from '../audit/audit-record.js'
import type { Lease } from '../broker/broker.js'
import type { LeaseCache } from '../broker/lease-cache.js'
import type { Clock } from '../clock.js'
import { chainFor, runInRunChain } from '../flow/flow-chain.js'
import { recordFlow } from '../flow/record-flow.js'
import type { CommandMasker as CommandMaskerPort, MaskingEngine } from '../masking/masking-engine.js'
import type { Secret } from '../secret.js'
import type {
  Command,
  CommandStream,
  ConnectionGrant,
  ExecuteContext,
  ExecuteOptions,
  Session,
} from '../session.js'
import { ambient } from './ambient.js'
import {
  type AuditChain,
  commandShaped,
  type DraftOutcome,
  type DraftRecord,
  outcomeShaped,
} from './audit-chain.js'
import { OpenStreams, type StreamEnd, StreamState } from './command-stream.js'
import { connectionGrant, foreignConnection, ownerKey } from './connection-owner.js'
import { fingerprint, parametersDigest, parameterText } from './fingerprint.js'
import { newId } from './ids.js'
import type { SessionRegistry } from './session-registry.js'

/** Errors `session.lease()` rejected with: no credential could be obtained. */
const leaseFailures = new WeakSet<object>()

/** What every session of one Warden shares. */
export interface WardenCore {
  readonly policy: Decider
  readonly audit: AuditChain
  readonly leases: LeaseCache | undefined
  readonly approvals: Approver | undefined
  readonly masking: Pick<MaskingEngine, 'masker'>
  readonly labels: ReadonlyMap<string, Readonly<Record<string, string>>>
  readonly sessions: SessionRegistry<SessionImpl>
  readonly owner: object
  readonly clock: Clock
}

interface ResourceInfo {
  readonly ref: ResourceRef
  readonly summary: { readonly kind: ResourceRef['kind']; readonly name: string }
  /** The record's `request` for this session and resource (shared, frozen). */
  readonly request: NonNullable<DraftRecord['request']>
}

// Which request field holds the facts of an action (the audit record's top-level `facts`).
const FAMILY = {
  'sql.query': 'sql',
  'ssh.exec': 'shell',
  'ssh.shell': 'shell',
  'sftp.read': 'sftp',
  'sftp.write': 'sftp',
  'sftp.remove': 'sftp',
  'ssh.forward': 'forward',
  'http.request': 'http',
  'tool.call': 'tool',
} as const satisfies Record<string, FactFamily>
type FactFamily = 'sql' | 'shell' | 'sftp' | 'forward' | 'kube' | 'http' | 'tool'
const FAMILIES: readonly FactFamily[] = ['sql', 'shell', 'sftp', 'forward', 'kube', 'http', 'tool']
const familyOf = (action: string): FactFamily | undefined =>
  action.startsWith('kube.') ? 'kube' : (FAMILY as Record<string, FactFamily>)[action]

const MAX_ERROR = 500

/** Per-command state: the driver's ExecuteContext and what the audit record needs. One allocation per command. */
class CommandContext implements ExecuteContext {
  readonly decision: Decision
  readonly lease: Lease | undefined
  readonly masker: CommandMaskerPort | null
  readonly approval: { readonly id: string; readonly preview?: ApprovalPreview } | undefined
  readonly #session: SessionImpl
  rowCount: number | undefined = undefined
  recording: string | undefined = undefined
  exit: number | undefined = undefined
  exitSignal: string | undefined = undefined
  /** Set when the driver handed over a stream: the outcome waits for its end (command-stream.ts). */
  streamed: StreamState | undefined = undefined
  returned = false

  constructor(
    session: SessionImpl,
    decision: Decision,
    lease: Lease | undefined,
    masker: CommandMaskerPort | null,
    approval: { readonly id: string; readonly preview?: ApprovalPreview } | undefined,
  ) {
    this.#session = session
    this.decision = decision
    this.lease = lease
    this.masker = masker
    this.approval = approval
  }
  get signal(): AbortSignal {
    return this.#session.signal
  }
  rows(count: number): void {
    if (Number.isFinite(count)) this.rowCount = (this.rowCount ?? 0) + count
  }
  link(name: 'recording', value: string): void {
    if (name === 'recording') this.recording = String(value)
  }
  exited(code: number | null | undefined, signal?: string): void {
    if (Number.isInteger(code)) this.exit = code as number
    if (typeof signal === 'string' && signal !== '') this.exitSignal = signal.slice(0, 32)
  }
  stream(): CommandStream {
    if (this.streamed === undefined) {
      // After run returned its outcome is already on its way: a stream handed over now would end nothing.
      if (this.returned)
        throw new WardenTypeError('context.stream() must be called inside run, before it returns')
      const open = this.#session.openStreams
      this.streamed = open.track(new StreamState((count) => this.rows(count), open.settled))
    }
    return this.streamed
  }
}

interface Failure {
  readonly status: OutcomeStatus
  readonly error: Error
}

export class SessionImpl implements Session {
  readonly id: string
  readonly principal: Principal
  readonly startedAt: Date
  readonly #core: WardenCore
  readonly #token: Secret | undefined
  readonly #abort = new AbortController()
  readonly #principalSummary: DraftRecord['principal']
  readonly #requestPrincipal: NonNullable<DraftRecord['request']>['principal']
  readonly #sessionFacts: { id: string; startedAt: Date; operations: number }
  readonly #resources = new WeakMap<Command['resource'], ResourceInfo>()
  /** What holds this session's leases in the cache (not the session: a dropped session can be freed). */
  readonly leaseHolder: object = Object.freeze({})
  /** Streamed commands not ended yet: closing the session ends them (command-stream.ts). */
  readonly openStreams = new OpenStreams()
  /** Who this session's connections belong to (see connection-owner.ts). */
  readonly #owner: string
  #operations = 0
  #closed = false
  #closing: Promise<void> | undefined

  constructor(core: WardenCore, principal: Principal, token: Secret | undefined) {
    this.#core = core
    this.id = newId()
    this.principal = principal
    this.startedAt = new Date()
    this.#token = token
    // Paid once per session: what every record and request of this session shares.
    this.#principalSummary = Object.freeze({
      groups: principal.groups,
      id: principal.id,
      type: principal.type,
    })
    this.#requestPrincipal = Object.freeze({
      claims: principal.claims,
      groups: principal.groups,
      id: principal.id,
      issuer: principal.issuer,
      type: principal.type,
    })
    this.#sessionFacts = { id: this.id, startedAt: this.startedAt, operations: 0 }
    this.#owner = ownerKey(principal)
  }

  connect(
    resource: Command['resource'],
    options: Parameters<Session['connect']>[1] = {},
  ): Promise<ConnectionGrant> {
    return connectionGrant(this, this.#owner, resource, options)
  }

  get operations(): number {
    return this.#operations
  }
  get closed(): boolean {
    return this.#closed
  }
  get signal(): AbortSignal {
    return this.#abort.signal
  }

  current(): Session {
    return this
  }

  run<R>(fn: () => R): R {
    // a run is one causal chain for flow rules (a child of the enclosing chain when nested)
    return ambient.run(this, () => runInRunChain(fn))
  }

  /** The audit record of session open/close (written by the Warden). */
  sessionRecord(type: 'session.open' | 'session.close'): DraftRecord {
    return {
      v: 1,
      id: newId(),
      time: new Date().toISOString(),
      seq: 0,
      session: this.id,
      prev: '',
      hash: '',
      type,
      principal: this.#principalSummary,
      request: { principal: this.#requestPrincipal },
      operations: type === 'session.close' ? this.#operations : undefined,
    }
  }

  check(command: Command, options?: { readonly audit?: boolean }): Decision {
    assertCommand(command)
    const started = performance.now()
    const info = this.#resource(command.resource)
    const flow = chainFor(this).facts
    let decision: Decision
    try {
      decision = this.#core.policy.decide(this.#request(command, info, this.#operations, flow))
    } catch (err) {
      decision = errorDecision(err, this.#core.policy)
    }
    if (command.refusal !== undefined) decision = refusalDecision(command.refusal, decision)
    if (options?.audit !== true) return decision
    try {
      this.#core.audit.check()
      const status = decision.effect === 'allow' ? 'ok' : 'denied'
      // The caller acts on the answer at once, so the record is stored before it is returned.
      this.#core.audit.appendSync(this.#record({ command, info, flow, decision, started, status }))
      return decision
    } catch (err) {
      // Not recorded means not released: fail closed.
      const message = err instanceof Error ? err.message : String(err)
      return {
        ...errorDecision(err, this.#core.policy),
        reason: `the decision could not be audited: ${message}`,
      }
    }
  }

  leaseIfHeld(resource: Command['resource'], scope = ''): Lease | undefined {
    const leases = this.#core.leases
    if (this.#closed || leases === undefined) return undefined // lease() says why
    const info = this.#resource(resource)
    return leases.held(
      { resource: info.ref, principal: this.principal, scope, token: this.#token },
      this.leaseHolder,
    )
  }

  async lease(resource: Command['resource'], scope = ''): Promise<Lease> {
    this.#assertOpen()
    const leases = this.#core.leases
    if (leases === undefined)
      throw new WardenError('ERR_WARDEN_CONFIG', 'this Warden has no broker: pass createWarden({broker})')
    const info = this.#resource(resource)
    return leases
      .get({ resource: info.ref, principal: this.principal, scope, token: this.#token }, this.leaseHolder)
      .catch((err: unknown) => {
        // A command whose run fails because no credential could be had (a pool opening a
        // connection) is refused, as with `{lease: true}`: audited `denied`, not `error`.
        if (typeof err === 'object' && err !== null) leaseFailures.add(err)
        throw err
      })
  }

  async execute<T>(
    command: Command,
    run: (context: ExecuteContext) => Promise<T> | T,
    options?: ExecuteOptions,
  ): Promise<T> {
    this.#assertOpen()
    assertCommand(command)
    if (typeof run !== 'function') throw new WardenTypeError('session.execute: run must be a function')
    const started = performance.now()
    const info = this.#resource(command.resource)
    const operations = ++this.#operations
    const core = this.#core
    const chain = chainFor(this)
    // What the chain had seen when this command was decided: recorded so a backtest replays flow rules.
    const flow = chain.facts

    // decide
    let decision: Decision
    try {
      decision = core.policy.decide(this.#request(command, info, operations - 1, flow))
    } catch (err) {
      decision = errorDecision(err, core.policy)
    }
    if (command.refusal !== undefined) decision = refusalDecision(command.refusal, decision)
    const connection = options?.connection
    if (connection !== undefined) {
      const foreign = foreignConnection(connection, this.#owner)
      if (foreign !== undefined) decision = refusalDecision(foreign, decision)
    }
    core.audit.check()
    if (decision.effect === 'deny') {
      const error = new WardenDeniedError(decision.rule, decision.reason)
      return this.#refuse(
        command,
        info,
        flow,
        decision,
        started,
        { status: 'denied', error },
        undefined,
        undefined,
      )
    }

    // approve
    let approval: { id: string; status: string; by?: string } | undefined
    let released: { readonly id: string; readonly preview?: ApprovalPreview } | undefined
    if (decision.effect === 'approve') {
      const result = await this.#approve(command, info, decision, options?.approver)
      approval = result.record
      if (result.failure)
        return this.#refuse(command, info, flow, decision, started, result.failure, approval, undefined)
      released = result.released
    }

    // lease (a connection's own lease is recorded with every command run on it)
    let lease: Lease | undefined = connection?.lease
    if (options?.lease) {
      try {
        lease = await this.lease(command.resource, options.lease === true ? '' : options.lease.scope)
        if (lease.expiresAt.getTime() <= core.clock.now()) {
          throw new WardenError(
            'ERR_WARDEN_LEASE_EXPIRED',
            `the lease for ${info.ref.kind}:${info.ref.name} has expired; not running with it`,
          )
        }
      } catch (err) {
        return this.#refuse(
          command,
          info,
          flow,
          decision,
          started,
          { status: 'denied', error: asError(err, 'ERR_WARDEN_BROKER') },
          approval,
          undefined,
        )
      }
    }

    // masking (only when the decision carries masks: the common path allocates nothing here)
    let masker: CommandMaskerPort | null = null
    if (decision.masks.length > 0) {
      try {
        masker = core.masking.masker(decision.masks)
      } catch (err) {
        return this.#refuse(
          command,
          info,
          flow,
          decision,
          started,
          { status: 'denied', error: asError(err, 'ERR_WARDEN_MASKING') },
          approval,
          lease,
        )
      }
    }

    // The record comes first: the command is sent only once its decision is stored (a failure
    // here refuses it with ERR_WARDEN_AUDIT: it never ran).
    const intent = this.#record({ command, info, flow, decision, started, approval, lease })
    const stored = core.audit.append(intent)
    if (stored !== undefined) await stored

    // run
    const context = new CommandContext(this, decision, lease, masker, released)
    let result: T
    try {
      result = await run(context)
    } catch (err) {
      context.returned = true
      context.streamed?.disarm()
      recordFlow(chain, command, info.ref, decision, masker)
      // A refusal found while running (a lease that could not be had, the server refusing a write
      // in a read-only transaction: a WardenDeniedError with its warden:* rule) is `denied`, not `error`.
      const refused = err instanceof WardenDeniedError
      const status = refused || leaseFailures.has(err as object) ? 'denied' : 'error'
      const record = this.#outcome(intent.id, status, started, context)
      const message = err instanceof Error ? err.message : String(err)
      // Masked before it is cut (a secret across the cut is masked whole), but only as much as can
      // survive the cut: a megabyte of server message must not cost seconds of detector work.
      record.outcome.error = clip(masker ? masker.text(message.slice(0, 4 * MAX_ERROR)) : message)
      const code = (err as { code?: unknown } | null)?.code
      if (typeof code === 'string') record.outcome.code = code
      if (refused && typeof err.rule === 'string') record.outcome.rule = err.rule.slice(0, 200)
      const outcomeStored = this.#appendOutcome(record, err)
      if (outcomeStored !== undefined) await outcomeStored
      throw err
    }

    context.returned = true
    recordFlow(chain, command, info.ref, decision, masker)

    // A streamed result is released now; its outcome is stored when its stream ends, and the
    // driver holds that end until it is (command-stream.ts).
    const streamed = context.streamed
    if (streamed !== undefined) {
      // Masks that fire while it streams count for flow rules too (merged with what is recorded above).
      const flowed = () => recordFlow(chain, command, info.ref, decision, masker)
      streamed.arm((end) => this.#streamOutcome(intent.id, started, context, streamed, end, flowed))
      return result
    }

    // mask report + outcome: the result is released only once its outcome is stored
    const record = this.#outcome(intent.id, 'ok', started, context)
    if (masker !== null) {
      const report = masker.report()
      if (report.length > 0) record.masked = report
    }
    const outcomeStored = this.#appendOutcome(record, undefined)
    if (outcomeStored !== undefined) await outcomeStored
    return result
  }

  async close(): Promise<void> {
    if (this.#closing) return this.#closing
    this.#closing = this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#closed = true
    this.#abort.abort(new WardenError('ERR_WARDEN_SESSION_CLOSED', 'the session was closed'))
    const core = this.#core
    core.sessions.delete(this)
    let error: unknown
    await this.openStreams.cancelAll()
    try {
      await core.leases?.release(this.leaseHolder)
    } catch (err) {
      error = err
    }
    try {
      const wait = core.audit.append(this.sessionRecord('session.close'))
      if (wait) await wait
      await core.audit.flush()
    } catch (err) {
      error ??= err
    }
    if (error !== undefined) throw error
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new WardenError(
        'ERR_WARDEN_SESSION_CLOSED',
        `session ${this.id} is closed; open a new one with warden.session()`,
      )
  }

  #resource(resource: Command['resource']): ResourceInfo {
    let info = this.#resources.get(resource)
    if (info === undefined) {
      if (
        resource === null ||
        typeof resource !== 'object' ||
        typeof resource.kind !== 'string' ||
        typeof resource.name !== 'string'
      ) {
        throw new WardenError('ERR_WARDEN_CONFIG', 'command.resource needs a kind and a name')
      }
      const configured = this.#core.labels.get(`${resource.kind}:${resource.name}`)
      const labels = Object.freeze({ ...configured, ...resource.labels })
      const ref = Object.freeze({ kind: resource.kind, name: resource.name, labels })
      info = {
        ref,
        summary: Object.freeze({ kind: resource.kind, name: resource.name }),
        request: Object.freeze({ principal: this.#requestPrincipal, resource: ref }),
      }
      this.#resources.set(resource, info)
    }
    return info
  }

  #request(command: Command, info: ResourceInfo, operations: number, flow: FlowFacts): RequestInput {
    this.#sessionFacts.operations = operations
    // Only the fields the command carries: `decide` completes the rest with empty values.
    const request: { -readonly [K in keyof RequestInput]: RequestInput[K] } = {
      principal: this.principal,
      resource: info.ref,
      action: command.action,
      session: this.#sessionFacts,
      flow,
      now: new Date(),
    }
    if (command.sql !== undefined) request.sql = command.sql
    if (command.shell !== undefined) request.shell = command.shell
    if (command.sftp !== undefined) request.sftp = command.sftp
    if (command.forward !== undefined) request.forward = command.forward
    if (command.kube !== undefined) request.kube = command.kube
    if (command.http !== undefined) request.http = command.http
    if (command.tool !== undefined) request.tool = command.tool
    return request
  }

  /** A command record: the intent (no `status`: stored before the command runs) or a refusal. */
  #record(r: {
    readonly command: Command
    readonly info: ResourceInfo
    readonly flow: FlowFacts
    readonly decision: Decision
    readonly started: number
    readonly status?: OutcomeStatus
    readonly approval?: DraftRecord['approval']
    readonly lease?: Lease
  }): DraftRecord {
    const { command, info, flow, decision } = r
    const family = familyOf(command.action)
    const scrub = this.#scrubber(decision)
    let others: Record<string, unknown> | undefined
    for (const f of FAMILIES) {
      if (f === family || command[f] === undefined) continue
      others ??= {}
      others[f] = scrub(command[f])
    }
    // Keys in canonical (sorted) order, all present: the record serializes without sorting, and
    // every command record has one shape (commandShaped: sealed by the fixed-shape serializer).
    return commandShaped({
      action: command.action,
      approval: r.approval,
      auditFailure: undefined,
      command: scrub(command.text) as string,
      decision: {
        effect: decision.effect,
        reason: decision.reason,
        revision: decision.revision,
        rule: decision.rule,
        shadow: shadowMatches(decision),
      },
      facts:
        family === undefined
          ? undefined
          : (scrub(command[family]) as Readonly<Record<string, unknown>> | undefined),
      hash: '',
      id: newId(),
      lease: r.lease?.id,
      masked: undefined,
      outcome:
        r.status === undefined
          ? undefined
          : {
              bytes: undefined,
              cancelled: undefined,
              code: undefined,
              error: undefined,
              exit: undefined,
              ms: Math.round((performance.now() - r.started) * 1000) / 1000,
              rows: undefined,
              signal: undefined,
              status: r.status,
            },
      prev: '',
      principal: this.#principalSummary,
      recording: undefined,
      request:
        others === undefined && flow.reads.length === 0 && flow.tags.length === 0
          ? info.request
          : {
              facts: others,
              flow: flow.reads.length === 0 && flow.tags.length === 0 ? undefined : flow,
              principal: this.#requestPrincipal,
              resource: info.ref,
            },
      resource: info.summary,
      seq: 0,
      session: this.id,
      time: new Date().toISOString(),
      type: 'command',
      v: 1,
    })
  }

  /**
   * What the record says of a command (its text, its facts) passes through the decision's detector
   * masks, so a secret typed into a command never reaches the log. Column masks have nothing to
   * match there; without detector masks (the common case) this is the identity and costs nothing.
   */
  #scrubber(decision: Decision): (value: unknown) => unknown {
    let detectors = false
    for (let i = 0; i < decision.masks.length; i++)
      if (decision.masks[i].detectors.length > 0) detectors = true
    if (!detectors) return identity
    let masker: CommandMaskerPort
    try {
      // Its own masker: the command's mask report counts only what the caller receives.
      masker = this.#core.masking.masker(decision.masks)
    } catch {
      return unrecordable
    }
    return (value) => scrubStrings(value, (text) => masker.text(text))
  }

  /** The outcome record of the command record `of`. */
  #outcome(
    of: string,
    status: OutcomeStatus,
    started: number,
    context: CommandContext,
  ): DraftOutcome & {
    outcome: { error?: string; code?: string; rule?: string }
  } {
    return outcomeShaped({
      auditFailure: undefined,
      hash: '',
      id: newId(),
      masked: undefined,
      of,
      outcome: {
        bytes: undefined,
        cancelled: undefined,
        code: undefined,
        error: undefined,
        exit: context.exit,
        ms: Math.round((performance.now() - started) * 1000) / 1000,
        rows: context.rowCount,
        rule: undefined,
        signal: context.exitSignal,
        status,
      },
      prev: '',
      recording: context.recording,
      seq: 0,
      session: this.id,
      time: new Date().toISOString(),
      type: 'outcome' as const,
      v: 1 as const,
    })
  }

  /** The outcome of a streamed command, when its stream ended: counts, mask report, late error. */
  async #streamOutcome(
    of: string,
    started: number,
    context: CommandContext,
    streamed: StreamState,
    end: StreamEnd,
    flowed: () => void,
  ): Promise<void> {
    const masker = context.masker
    if (masker !== null) flowed()
    const failed = end.error !== undefined
    const record = this.#outcome(of, failed ? 'error' : 'ok', started, context)
    const outcome = record.outcome as { bytes?: number; cancelled?: boolean; error?: string; code?: string }
    outcome.bytes = streamed.byteCount
    if (end.cancelled) outcome.cancelled = true
    if (failed) {
      const message = end.error instanceof Error ? end.error.message : String(end.error)
      outcome.error = clip(masker ? masker.text(message.slice(0, 4 * MAX_ERROR)) : message)
      const code = (end.error as { code?: unknown } | null)?.code
      if (typeof code === 'string') outcome.code = code
    }
    if (masker !== null) {
      const report = masker.report()
      if (report.length > 0) record.masked = report
    }
    const outcomeStored = this.#appendOutcome(record, end.error)
    if (outcomeStored !== undefined) await outcomeStored
  }

  /**
   * Stores an outcome before the result (or the run's error) is released. If it cannot be stored,
   * the caller gets ERR_WARDEN_RAN_UNRECORDED: not the refusal code, because the command ran.
   */
  #appendOutcome(record: DraftOutcome, runError: unknown): Promise<void> | undefined {
    // Not async: when every sink stored the record already, the result is released without a
    // promise of its own (issue 20 part 5).
    let wait: Promise<void> | undefined
    try {
      wait = this.#core.audit.append(record)
    } catch (err) {
      return Promise.reject(unrecorded(err, runError))
    }
    return wait?.catch((err: unknown) => {
      throw unrecorded(err, runError)
    })
  }

  async #append(record: DraftRecord): Promise<void> {
    const wait = this.#core.audit.append(record)
    if (wait !== undefined) await wait
  }

  /** Audits a refused command and throws its error (or ERR_WARDEN_AUDIT when that cannot be audited). */
  async #refuse(
    command: Command,
    info: ResourceInfo,
    flow: FlowFacts,
    decision: Decision,
    started: number,
    failure: Failure,
    approval: DraftRecord['approval'],
    lease: Lease | undefined,
  ): Promise<never> {
    const record = this.#record({
      command,
      info,
      flow,
      decision,
      started,
      status: failure.status,
      approval,
      lease,
    })
    const outcome = record.outcome as { error?: string; code?: string }
    outcome.error = clip(failure.error.message)
    const code = (failure.error as { code?: unknown }).code
    if (typeof code === 'string') outcome.code = code
    await this.#append(record)
    throw failure.error
  }

  async #approve(
    command: Command,
    info: ResourceInfo,
    decision: Decision,
    override?: Approver,
  ): Promise<{
    record: { id: string; status: string; by?: string } | undefined
    released?: { readonly id: string; readonly preview?: ApprovalPreview }
    failure?: Failure
  }> {
    const core = this.#core
    const approver = override ?? core.approvals
    if (approver === undefined) {
      return {
        record: undefined,
        failure: {
          status: 'denied',
          error: new WardenError(
            'ERR_WARDEN_CONFIG',
            `rule ${decision.rule} needs an approval but this Warden has no approver: pass createWarden({approvals})`,
          ),
        },
      }
    }
    const id = newId()
    const timeout = decision.approval?.timeout ?? 15 * 60_000
    const requestedAt = new Date()
    let preview: ApprovalPreview | undefined
    try {
      if (command.preview) {
        // Data in a preview is masked like the command's results would be (its own masker: the
        // run's mask report counts only rows the caller receives).
        const masker = decision.masks.length > 0 ? core.masking.masker(decision.masks) : null
        preview = await command.preview({ decision, masker })
      }
    } catch (err) {
      return {
        record: { id, status: 'error' },
        failure: { status: 'denied', error: asError(err, 'ERR_WARDEN_PREVIEW_FAILED') },
      }
    }
    const family = familyOf(command.action)
    const bound = boundParameters(command.parameters, decision, core.masking)
    // What leaves the process for an approver (a store, a webhook, an inbox) passes through the
    // decision's detector masks like the audit record does: a secret typed into a command is not
    // written to Redis. The fingerprint still binds the exact text.
    const scrub = this.#scrubber(decision)
    const shown = scrub(command.text) as string
    const request: ApprovalRequest = Object.freeze({
      id,
      fingerprint: fingerprint(info.ref.kind, info.ref.name, command.action, command.text, bound?.digest),
      session: this.id,
      principal: this.principal,
      resource: info.ref,
      action: command.action,
      command: shown,
      ...(shown !== command.text ? { commandMasked: true } : {}),
      ...(bound !== undefined ? { parameters: bound.shown, parametersDigest: bound.digest } : {}),
      facts: (scrub((family !== undefined ? command[family] : undefined) ?? {}) ?? {}) as Readonly<
        Record<string, unknown>
      >,
      rule: decision.rule,
      reason: decision.reason,
      approvers: decision.approval?.approvers ?? [],
      groups: decision.approval?.groups ?? [{ approvers: [], minApprovals: 1 }],
      requestedAt,
      expiresAt: new Date(requestedAt.getTime() + timeout),
      preview,
    })
    const signal = AbortSignal.any([timeoutSignal(timeout), this.#abort.signal])
    let outcome: ApprovalOutcome
    try {
      outcome = await untilAborted(approver.request(request, signal), signal)
    } catch (err) {
      if (signal.aborted) {
        const closed = this.#abort.signal.aborted
        return {
          record: { id, status: closed ? 'rejected' : 'expired' },
          failure: closed
            ? {
                status: 'rejected',
                error: new WardenApprovalError(
                  'ERR_WARDEN_APPROVAL_REJECTED',
                  'the session closed while waiting for approval',
                  { rule: decision.rule, approval: id },
                ),
              }
            : {
                status: 'expired',
                error: new WardenApprovalError(
                  'ERR_WARDEN_APPROVAL_EXPIRED',
                  `no approval within ${timeout} ms (rule ${decision.rule})`,
                  { rule: decision.rule, approval: id },
                ),
              },
        }
      }
      // A decision this process refused (forged, replayed, by a non-approver): rejected, never run.
      const code = (err as { code?: unknown })?.code
      if (err instanceof WardenError && typeof code === 'string' && REFUSED_DECISION.has(code))
        return {
          record: { id, status: 'mismatch' },
          failure: {
            status: 'rejected',
            error: new WardenApprovalError(
              code as ApprovalErrorCode,
              err.message,
              { rule: decision.rule, approval: id },
              { cause: err },
            ),
          },
        }
      return {
        record: { id, status: 'error' },
        failure: { status: 'denied', error: asError(err, 'ERR_WARDEN_APPROVAL_STORE') },
      }
    }
    const by = typeof outcome?.by === 'string' ? outcome.by : undefined
    const record = approvalRecord(id, outcome, by)
    if (outcome?.status === 'expired') {
      return {
        record,
        failure: {
          status: 'expired',
          error: new WardenApprovalError(
            'ERR_WARDEN_APPROVAL_EXPIRED',
            `the approval request expired (rule ${decision.rule})`,
            { rule: decision.rule, approval: id },
          ),
        },
      }
    }
    if (outcome?.status !== 'approved') {
      const why = outcome?.reason ? `: ${outcome.reason}` : ''
      return {
        record: { ...record, status: 'rejected' },
        failure: {
          status: 'rejected',
          error: new WardenApprovalError(
            'ERR_WARDEN_APPROVAL_REJECTED',
            `approval rejected${by ? ` by ${by}` : ''}${why}`,
            {
              rule: decision.rule,
              approval: id,
              ...(by !== undefined ? { by } : {}),
              ...(typeof outcome?.reason === 'string' ? { approverReason: outcome.reason } : {}),
            },
          ),
        },
      }
    }
    // Both must name this request: an outcome without the id (a custom approver replaying a saved
    // answer) could otherwise release the same operation again and again.
    if (outcome.fingerprint !== request.fingerprint || outcome.id !== id) {
      return {
        record: { ...record, status: 'mismatch' },
        failure: {
          status: 'rejected',
          error: new WardenApprovalError(
            'ERR_WARDEN_APPROVAL_MISMATCH',
            outcome.id === undefined
              ? 'the approver answered without the request id: an approval outcome must carry `id: request.id` (and `fingerprint: request.fingerprint`) of the request it decides'
              : 'the approval does not match this exact operation (different fingerprint or request, or already used); ask for a new approval',
            { rule: decision.rule, approval: id, ...(by !== undefined ? { by } : {}) },
          ),
        },
      }
    }
    // Whoever the approver is, the requester never approves their own command.
    if (
      outcome.approvals === undefined
        ? by !== undefined && sameName(by, this.principal.id)
        : outcome.approvals.some((a) => sameName(a.by, this.principal.id))
    ) {
      return {
        record: { ...record, status: 'mismatch' },
        failure: {
          status: 'rejected',
          error: new WardenApprovalError(
            'ERR_WARDEN_APPROVAL_APPROVER',
            'the requester approved their own command',
            { rule: decision.rule, approval: id, ...(by !== undefined ? { by } : {}) },
          ),
        },
      }
    }
    // Single use by construction: the request id is minted for this one execution, and an outcome
    // naming any other request is refused above.
    return { record, released: preview === undefined ? { id } : { id, preview } }
  }
}

/**
 * The shadow (non-enforcing) rules that matched, as the policy reported them: what a rule being
 * tried out would have done to this command, in the audit log where it can be compared. Undefined
 * (left out of the record) when none did, which is the common path and allocates nothing.
 */
function shadowMatches(decision: Decision): readonly MatchedRule[] | undefined {
  const matched = decision.matched
  let out: MatchedRule[] | undefined
  for (let i = 0; i < matched.length; i++) {
    if (!matched[i].shadow) continue
    out ??= []
    out.push(matched[i])
  }
  return out
}

const identity = (value: unknown): unknown => value
const unrecordable = (value: unknown): unknown =>
  typeof value === 'string' ? '[not recorded: the masking engine failed]' : undefined

/** `value` with every string passed through `mask`; the same object when nothing changed. */
function scrubStrings(value: unknown, mask: (text: string) => string, depth = 0): unknown {
  if (typeof value === 'string') return mask(value)
  if (value === null || typeof value !== 'object' || depth > 64) return value
  if (Array.isArray(value)) {
    let out: unknown[] | undefined
    for (let i = 0; i < value.length; i++) {
      const v = scrubStrings(value[i], mask, depth + 1)
      if (v === value[i]) continue
      out ??= value.slice()
      out[i] = v
    }
    return out ?? value
  }
  let out: Record<string, unknown> | undefined
  for (const [k, v] of Object.entries(value)) {
    const m = scrubStrings(v, mask, depth + 1)
    if (m === v) continue
    out ??= { ...value }
    out[k] = m
  }
  return out ?? value
}

/** A malformed command is the caller's mistake: a typed error before anything is decided or run. */
function assertCommand(command: Command): void {
  if (command === null || typeof command !== 'object')
    throw new WardenTypeError('session.execute: command must be an object {resource, action, text, ...facts}')
  if (typeof command.action !== 'string' || (command.action as string) === '')
    throw new WardenTypeError('session.execute: command.action must be a non-empty string (e.g. "sql.query")')
  if (typeof command.text !== 'string')
    throw new WardenTypeError('session.execute: command.text must be a string (the command as it will run)')
  const refusal = command.refusal
  if (
    refusal !== undefined &&
    (refusal === null ||
      typeof refusal !== 'object' ||
      typeof refusal.rule !== 'string' ||
      !/^warden:[a-z0-9-]+$/.test(refusal.rule) ||
      typeof refusal.reason !== 'string')
  )
    throw new WardenTypeError('session.execute: command.refusal must be {rule: "warden:<name>", reason}')
  for (const f of FAMILIES) {
    const facts = command[f]
    // null is completed with empty facts, like a missing family (a driver that has none)
    if (facts !== undefined && facts !== null && typeof facts !== 'object')
      throw new WardenTypeError(`session.execute: command.${f} must be an object of facts when given`)
  }
}

/**
 * A driver's refusal as the decision: a deny by its built-in `warden:*` rule, before any policy
 * rule. The policy's detector masks stay, so the record of the refused text is scrubbed as usual.
 */
function refusalDecision(refusal: NonNullable<Command['refusal']>, policy: Decision): Decision {
  return {
    effect: 'deny',
    rule: refusal.rule,
    reason: refusal.reason,
    approval: null,
    masks: policy.masks.filter((m) => m.detectors.length > 0),
    matched: [],
    revision: policy.revision,
  }
}

function errorDecision(err: unknown, policy: Decider): Decision {
  const message = err instanceof Error ? err.message : String(err)
  return {
    effect: 'deny',
    rule: 'error',
    reason: `policy evaluation failed: ${message}`,
    approval: null,
    masks: [],
    matched: [],
    revision: safeRevision(policy),
  }
}

function safeRevision(policy: Decider): string {
  try {
    return String(policy.revision)
  } catch {
    return ''
  }
}

function asError(err: unknown, code: import('@warden/policy').WardenErrorCode): Error {
  if (err instanceof WardenError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new WardenError(code, message, { cause: err })
}

function clip(s: string): string {
  return s.length > MAX_ERROR ? `${s.slice(0, MAX_ERROR)}…` : s
}

/** Longest bound value shown to an approver (the digest binds the whole value). */
const MAX_PARAMETER_SHOWN = 200

/** Bound values for an approval request: shown masked and cut, bound by the digest of the exact ones. */
function boundParameters(
  values: readonly unknown[] | undefined,
  decision: Decision,
  masking: Pick<MaskingEngine, 'masker'>,
): { shown: (string | null)[]; digest: string } | undefined {
  if (values === undefined) return undefined
  if (!Array.isArray(values))
    throw new WardenTypeError('session.execute: command.parameters must be an array')
  const exact = values.map(parameterText)
  // Only detectors apply: a bound value has no column. Cut after masking, so a secret at the cut is masked whole.
  const detectors = decision.masks.filter((m) => m.detectors.length > 0)
  const masker = detectors.length > 0 ? masking.masker(detectors) : null
  const shown = exact.map((v) => {
    if (v === null) return null
    const masked = masker === null ? v : String(masker.text(v))
    return masked.length > MAX_PARAMETER_SHOWN
      ? `${masked.slice(0, MAX_PARAMETER_SHOWN)}… (${masked.length} characters)`
      : masked
  })
  return { shown, digest: parametersDigest(exact) }
}

const REFUSED_DECISION: ReadonlySet<string> = new Set([
  'ERR_WARDEN_APPROVAL_SIGNATURE',
  'ERR_WARDEN_APPROVAL_MISMATCH',
  'ERR_WARDEN_APPROVAL_APPROVER',
])

/** The record's approval: who approved (each of several), and whether decisions were unsigned. */
function approvalRecord(
  id: string,
  outcome: ApprovalOutcome | undefined,
  by: string | undefined,
): { id: string; status: string; by?: string; approvals?: string[]; unsigned?: 'development-only' } {
  const record: {
    id: string
    status: string
    by?: string
    approvals?: string[]
    unsigned?: 'development-only'
  } = {
    id,
    status: String(outcome?.status),
    by,
  }
  if (Array.isArray(outcome?.approvals) && outcome.approvals.length > 1)
    record.approvals = outcome.approvals.map((a) => String(a.by))
  if (outcome?.unsigned === 'development-only') record.unsigned = 'development-only'
  return record
}

/**
 * AbortSignal.timeout for any length: one timer holds at most 2^31-1 ms (~24.8 days) and fires at
 * once beyond that, so longer approval windows (policies allow up to 366d) are waited for in legs.
 */
function timeoutSignal(ms: number): AbortSignal {
  if (ms <= MAX_TIMER_MS) return AbortSignal.timeout(ms)
  const controller = new AbortController()
  const end = Date.now() + ms
  const leg = () => {
    const left = end - Date.now()
    if (left <= 0) controller.abort(new DOMException('The operation timed out.', 'TimeoutError'))
    else setTimeout(leg, Math.min(left, MAX_TIMER_MS)).unref()
  }
  leg()
  return controller.signal
}

function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    Promise.resolve(promise).then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}

/** The error a caller gets when a command ran but its outcome could not be stored. */
function unrecorded(err: unknown, runError: unknown): WardenError {
  const why = err instanceof Error ? err.message : String(err)
  return new WardenError(
    'ERR_WARDEN_RAN_UNRECORDED',
    `the command ran${runError === undefined ? '' : ' and failed'}, but its outcome could not be recorded (${why}); ` +
      'its result is withheld. It may have changed the target: check before retrying',
    { cause: err },
  )
}
