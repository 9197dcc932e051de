import {
  type Decider,
  type Principal,
  type PrincipalType,
  WardenError,
  WardenTypeError,
} from '@warden/policy'
import type { Approver } from './approval/approver.js'
import type { AuditSink } from './audit/audit-sink.js'
import type { Broker } from './broker/broker.js'
import { LeaseCache, type LeaseCacheOptions } from './broker/lease-cache.js'
import { type Clock, systemClock } from './clock.js'
import type { Identity } from './identity/identity.js'
import { ambient } from './internal/ambient.js'
import { AuditChain, type DraftRecord } from './internal/audit-chain.js'
import { frozenClaims } from './internal/frozen-claims.js'
import { newId } from './internal/ids.js'
import { SessionImpl, type WardenCore } from './internal/session-impl.js'
import { SessionRegistry } from './internal/session-registry.js'
import { createMaskingEngine, type MaskingEngine, type MaskingOptions } from './masking/masking-engine.js'
import { revealSecret, Secret } from './secret.js'
import type { Session, SessionSource } from './session.js'

export interface WardenOptions {
  /** Decides every command: a compiled policy (`compilePolicy`/`loadPolicy`) or any Decider. */
  readonly policy: Decider
  /** Issues credentials for `execute(..., {lease: true})` and `session.lease()`. */
  readonly broker?: Broker
  /** Where audit records go. At least one sink. */
  readonly audit: AuditSink | readonly AuditSink[]
  /**
   * Who decides `approve` rules. Without one, such commands are denied. `warden.close()` closes it
   * (a store's Redis connections would otherwise keep the process alive): share one store between
   * Wardens only if you close it yourself last.
   */
  readonly approvals?: Approver
  /** Verifies tokens given to `warden.session({token})`. */
  readonly identity?: Identity
  /**
   * The masking engine (`createMaskingEngine(options)`), or its options. Default: an engine with a
   * per-process random key, made the first time a decision carries masks.
   */
  readonly masking?: MaskingEngine | MaskingOptions
  /** Labels per resource, keyed `kind:name`, merged under the labels a driver gives. */
  readonly resources?: Readonly<Record<string, { readonly labels?: Readonly<Record<string, string>> }>>
  /**
   * What a failing audit sink does: `fail-closed` (default) refuses commands with ERR_WARDEN_AUDIT;
   * `fail-open` keeps running, warns once, and marks every record `auditFailure: "fail-open"`.
   */
  readonly auditFailure?: 'fail-closed' | 'fail-open'
  /** Lease cache tuning. */
  readonly leases?: LeaseCacheOptions
  /**
   * Where lease lifetimes and expiry are read (default: the system clock). Tests pass
   * `manualClock()` from `@warden/core/testing` to move time instead of waiting for it.
   */
  readonly clock?: Clock
  /**
   * On SIGTERM and SIGINT, store every queued audit record synchronously before the process goes
   * (default true). When Warden's is the only listener, the signal then ends the process as it
   * would have without it; when the host has its own, the host decides. Set false where the host
   * owns signals, and call `warden.flushSync()` (or `await warden.close()`) from its handler.
   */
  readonly signals?: boolean
}

export type SessionInput =
  | { readonly principal: PrincipalInput; readonly token?: never }
  | { readonly token: string | Secret; readonly principal?: never }

/** A principal from trusted code; `groups`, `claims` and `issuer` default to empty. */
export interface PrincipalInput {
  readonly id: string
  readonly type: PrincipalType
  readonly groups?: readonly string[]
  readonly claims?: Readonly<Record<string, unknown>>
  readonly issuer?: string
}

export interface Warden extends SessionSource {
  /** Opens a session for a verified token or, in trusted code, a principal. Audited (`session.open` / `session.refused`). */
  session(input: SessionInput): Promise<Session>
  /** The ambient session (inside `session.run`); throws ERR_WARDEN_NO_SESSION outside one. */
  current(): Session
  /** Closes every open session, revokes every lease, flushes and closes the audit sinks. */
  close(): Promise<void>
  /** Stores every queued audit record now, synchronously (for a host's own signal handler). */
  flushSync(): void
}

const TYPES: ReadonlySet<string> = new Set(['service', 'agent', 'workload', 'user'] satisfies PrincipalType[])

// One beforeExit listener for all Wardens: queued audit records are flushed before the process ends.
const live = new Set<WardenImpl>()
let exitHook = false
const onBeforeExit = () => {
  for (const w of live) w.flushQuietly()
}

// SIGTERM/SIGINT: a container stop must not lose what is queued. Records are written before their
// command proceeds, so what is queued here belongs to commands not yet sent or results not yet
// released; storing it synchronously is all a signal handler can safely do.
const onSignal = (signal: NodeJS.Signals) => {
  for (const w of live) if (w.signals) w.flushQuietlySync()
  if (process.listenerCount(signal) === 1) {
    // Ours was the only listener: end the process as the signal would have without it.
    process.removeListener(signal, onSignal)
    process.kill(process.pid, signal)
  }
}
let signalHook = false

class WardenImpl implements Warden {
  readonly #core: WardenCore
  readonly #identity: Identity | undefined
  readonly #broker: Broker | undefined
  readonly #approvals: Approver | undefined
  #closed = false
  #closing: Promise<void> | undefined
  #flushing = false
  readonly signals: boolean

  constructor(options: WardenOptions) {
    const sinks = Array.isArray(options.audit)
      ? (options.audit as readonly AuditSink[])
      : [options.audit as AuditSink]
    for (const sink of sinks) {
      if (
        typeof sink?.write !== 'function' ||
        typeof sink.flush !== 'function' ||
        typeof sink.close !== 'function'
      ) {
        throw new WardenTypeError('createWarden: every "audit" sink needs write(), flush() and close()')
      }
    }
    const labels = new Map<string, Readonly<Record<string, string>>>()
    for (const [key, value] of Object.entries(options.resources ?? {}))
      labels.set(key, Object.freeze({ ...value.labels }))
    this.#identity = options.identity
    this.#broker = options.broker
    this.#approvals = options.approvals
    const clock = options.clock ?? systemClock
    const leases = options.broker
      ? new LeaseCache(options.broker, { ...options.leases, clock: options.leases?.clock ?? clock })
      : undefined
    this.#core = {
      policy: options.policy,
      audit: new AuditChain(sinks, { failOpen: options.auditFailure === 'fail-open' }),
      leases,
      approvals: options.approvals,
      masking: maskingOf(options.masking),
      labels,
      sessions: new SessionRegistry(() => leases),
      owner: this,
      clock,
    }
    live.add(this)
    if (!exitHook) {
      exitHook = true
      process.on('beforeExit', onBeforeExit)
    }
    this.signals = options.signals !== false
    if (this.signals && !signalHook) {
      signalHook = true
      process.on('SIGTERM', onSignal)
      process.on('SIGINT', onSignal)
    }
  }

  flushSync(): void {
    this.#core.audit.flushSync()
  }

  /** From a signal handler: never throws (a failed sink already refuses commands). */
  flushQuietlySync(): void {
    try {
      this.#core.audit.flushSync()
    } catch {}
  }

  async session(input: SessionInput): Promise<Session> {
    if (this.#closed) throw new WardenError('ERR_WARDEN_SESSION_CLOSED', 'this Warden is closed')
    let principal: Principal
    let token: Secret | undefined
    if (input?.token !== undefined) {
      if (this.#identity === undefined) {
        throw new WardenError(
          'ERR_WARDEN_CONFIG',
          'warden.session({token}) needs createWarden({identity}), e.g. jwtIdentity({jwksUrl, issuer, audience})',
        )
      }
      token = input.token instanceof Secret ? input.token : new Secret(String(input.token))
      try {
        principal = await this.#identity.verify(revealSecret(token))
      } catch (err) {
        const error =
          err instanceof WardenError && err.code === 'ERR_WARDEN_TOKEN_INVALID'
            ? err
            : new WardenError(
                'ERR_WARDEN_TOKEN_INVALID',
                `token refused: ${err instanceof Error ? err.message : String(err)}`,
                { cause: err },
              )
        await this.#appendRefused(error)
        throw error
      }
    } else if (input?.principal !== undefined) {
      principal = checkPrincipal(input.principal)
    } else {
      throw new WardenError('ERR_WARDEN_CONFIG', 'warden.session() needs {token} or {principal}')
    }
    const session = new SessionImpl(this.#core, principal, token)
    const wait = this.#core.audit.append(session.sessionRecord('session.open'))
    if (wait) await wait
    this.#core.sessions.add(session, session.leaseHolder)
    return session
  }

  current(): Session {
    const session = ambient.getStore()
    if (session === undefined || !this.#core.sessions.has(session as SessionImpl)) {
      throw new WardenError(
        'ERR_WARDEN_NO_SESSION',
        'no Warden session here: run this code inside session.run(() => ...) or pass the session to the client',
      )
    }
    return session
  }

  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#closed = true
    live.delete(this)
    const errors: unknown[] = []
    const settle = async (p: Promise<unknown> | undefined) => {
      try {
        await p
      } catch (err) {
        errors.push(err)
      }
    }
    await Promise.all(this.#core.sessions.live().map((s) => settle(s.close())))
    await settle(this.#core.leases?.close())
    await settle(this.#broker?.close?.())
    // The approver's own connections (redisApprovals holds two) would keep the process alive.
    await settle(this.#approvals?.close?.())
    await settle(this.#core.audit.flush())
    await settle(this.#core.audit.close())
    if (errors.length > 0) throw errors[0]
  }

  /** beforeExit: write what is queued; errors surface on the next command or close(). */
  flushQuietly(): void {
    // Only when records arrived since the last flush: a flush that does I/O would otherwise
    // schedule work, fire beforeExit again, and keep the process alive forever.
    if (this.#flushing || !this.#core.audit.dirty) return
    this.#flushing = true
    this.#core.audit.flush().then(
      () => {
        this.#flushing = false
      },
      () => {
        this.#flushing = false
      },
    )
  }

  async #appendRefused(error: WardenError): Promise<void> {
    const record: DraftRecord = {
      v: 1,
      id: newId(),
      time: new Date().toISOString(),
      seq: 0,
      session: '',
      prev: '',
      hash: '',
      type: 'session.refused',
      principal: { id: '', type: '', groups: [] },
      outcome: { status: 'denied', ms: 0, error: error.message, code: error.code },
    }
    const wait = this.#core.audit.append(record)
    if (wait) await wait
  }
}

// A given engine is used as is; options (or nothing) make one lazily, the first time a decision masks.
function maskingOf(masking: MaskingEngine | MaskingOptions | undefined): WardenCore['masking'] {
  if (masking !== undefined && typeof (masking as MaskingEngine).masker === 'function')
    return masking as MaskingEngine
  let engine: MaskingEngine | undefined
  return {
    masker(rules) {
      engine ??= createMaskingEngine(masking as MaskingOptions | undefined)
      return engine.masker(rules)
    },
  }
}

function checkPrincipal(input: PrincipalInput): Principal {
  if (input === null || typeof input !== 'object' || typeof input.id !== 'string' || input.id === '') {
    throw new WardenError('ERR_WARDEN_CONFIG', 'principal.id must be a non-empty string')
  }
  if (!TYPES.has(input.type))
    throw new WardenError('ERR_WARDEN_CONFIG', 'principal.type must be service, agent, workload or user')
  const groups = input.groups ?? []
  if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) {
    throw new WardenError('ERR_WARDEN_CONFIG', 'principal.groups must be a list of strings')
  }
  return Object.freeze({
    id: input.id,
    type: input.type,
    groups: Object.freeze([...groups]),
    claims: frozenClaims(input.claims),
    issuer: input.issuer ?? '',
  })
}

/**
 * Creates the Warden: one per process, shared by every client.
 * @example
 * const warden = createWarden({ policy: await loadPolicy('policy/'), audit: jsonlSink('audit.jsonl'), broker })
 * const session = await warden.session({ principal: { id: 'svc-reports', type: 'service', groups: ['readers'] } })
 */
export function createWarden(options: WardenOptions): Warden {
  if (options === null || typeof options !== 'object')
    throw new WardenTypeError('createWarden: options are required')
  if (typeof options.policy?.decide !== 'function')
    throw new WardenTypeError('createWarden: "policy" needs decide() (use compilePolicy or loadPolicy)')
  if (options.audit === undefined || (Array.isArray(options.audit) && options.audit.length === 0)) {
    throw new WardenTypeError(
      'createWarden: "audit" needs at least one sink (jsonlSink, pinoSink, memorySink)',
    )
  }
  if (
    options.broker !== undefined &&
    (typeof options.broker.issue !== 'function' || typeof options.broker.revoke !== 'function')
  ) {
    throw new WardenTypeError('createWarden: "broker" needs issue() and revoke()')
  }
  if (options.clock !== undefined && typeof options.clock?.now !== 'function') {
    throw new WardenTypeError('createWarden: "clock" needs now() returning milliseconds')
  }
  if (options.approvals !== undefined && typeof options.approvals.request !== 'function') {
    throw new WardenTypeError('createWarden: "approvals" needs request()')
  }
  if (options.identity !== undefined && typeof options.identity.verify !== 'function') {
    throw new WardenTypeError('createWarden: "identity" needs verify()')
  }
  if (options.masking !== undefined && (options.masking === null || typeof options.masking !== 'object')) {
    throw new WardenTypeError(
      'createWarden: "masking" must be a masking engine (createMaskingEngine()) or its options',
    )
  }
  if (options.signals !== undefined && typeof options.signals !== 'boolean')
    throw new WardenTypeError('createWarden: signals must be true or false')
  if (
    options.auditFailure !== undefined &&
    options.auditFailure !== 'fail-closed' &&
    options.auditFailure !== 'fail-open'
  ) {
    throw new WardenTypeError("createWarden: auditFailure must be 'fail-closed' or 'fail-open'")
  }
  return new WardenImpl(options)
}
