import type {
  Action,
  Decision,
  ForwardFacts,
  HttpFacts,
  KubeFacts,
  Principal,
  ResourceKind,
  SftpFacts,
  ShellFacts,
  SqlFacts,
  ToolFacts,
} from '@warden/policy'
import type { ApprovalPreview } from './approval/approver.js'
import type { Lease } from './broker/broker.js'
import type { Masker } from './masking/mask-plan.js'

/** What a driver hands the pipeline: the described command. Core completes it into a policy Request. */
export interface Command {
  readonly resource: {
    readonly kind: ResourceKind
    readonly name: string
    readonly labels?: Readonly<Record<string, string>>
  }
  readonly action: Action
  /** The command as audited and fingerprinted: SQL text, shell line, `GET https://host/path`, tool name + args. */
  readonly text: string
  readonly sql?: SqlFacts
  readonly shell?: ShellFacts
  readonly sftp?: SftpFacts
  readonly forward?: ForwardFacts
  readonly kube?: KubeFacts
  readonly http?: HttpFacts
  readonly tool?: ToolFacts
  /** Computes an approval preview ("approve the effect"); called only when the decision is `approve`. */
  readonly preview?: (context: PreviewContext) => Promise<ApprovalPreview | undefined>
  /**
   * Bound parameter values, as the driver will send them (copied at the call, so the caller cannot
   * change them later). Shown to an approver (through the decision's detector masks) and bound into
   * the approval's fingerprint; never written to the audit record.
   */
  readonly parameters?: readonly unknown[]
  /**
   * What the driver itself refuses (text a lexer cannot trust, an unclassified multi-statement
   * text, a path the server would read otherwise): core decides it as a deny by this built-in
   * `warden:*` rule before policy, audits it as `denied` and never runs the command.
   */
  readonly refusal?: { readonly rule: `warden:${string}`; readonly reason: string }
}

/** What the pipeline hands `Command.preview`: the decision, and a masker with its masks for any data shown. */
export interface PreviewContext {
  readonly decision: Decision
  /** A masker of the decision's masks (its own, not the run's), or null when the decision has none. */
  readonly masker: Masker | null
}

export interface ExecuteContext {
  readonly decision: Decision
  /** The lease taken for this command (when `options.lease` asked for one). */
  readonly lease: Lease | undefined
  /** Null when the decision carries no masks: the common, free path. */
  readonly masker: Masker | null
  readonly signal: AbortSignal
  /** Reports rows returned/affected for the audit outcome. */
  rows(count: number): void
  /** Links an artifact (e.g. a session recording path) from the audit record. */
  link(name: 'recording', value: string): void
  /**
   * Reports how a remote process ended (an ssh exec): `outcome.exit` is its exit status, or
   * `outcome.signal` the signal that ended it. The outcome status stays `ok`: the command ran.
   */
  exited(code: number | null | undefined, signal?: string): void
  /** The approval that released this command, if any (for drivers that guard the approved effect). */
  readonly approval: { readonly id: string; readonly preview?: ApprovalPreview } | undefined
  /**
   * Hands the command's output stream to the pipeline: the command then ends when its output ends
   * (a response body, a watch, a log, an ssh channel, a cursor), not when `run` returns. `run`'s
   * result is still released at once (streaming goes on), but the outcome record (its `ms`, the
   * mask report, `bytes`/`rows`, the exit status, a late error) is written when the driver reports
   * the end, and the driver holds the end of the caller's stream until that record is stored.
   * Call it at most once, inside `run` (later calls return the same handle).
   */
  stream(): CommandStream
}

/**
 * The end of a streamed command, reported by its driver (from `context.stream()`). Every method
 * is safe to call more than once; the first `end`/`cancel` decides the outcome.
 */
export interface CommandStream {
  /** Counts bytes of output delivered to the caller (`outcome.bytes`). */
  bytes(count: number): void
  /** Counts rows or events delivered to the caller (`outcome.rows`, like `context.rows`). */
  rows(count: number): void
  /**
   * The output ended: cleanly, or with `error` (recorded as `status: "error"` with the masked
   * message and its `code`). Resolves once the outcome record is stored: only then may the driver
   * release the end of the stream (the last chunk, `end`, `close`, `done`) to the caller. Rejects
   * with `ERR_WARDEN_RAN_UNRECORDED` when it cannot be stored: the driver errors the caller's
   * stream with that error instead of ending it.
   */
  end(error?: unknown): Promise<void>
  /**
   * The caller abandoned the stream (cancel, destroy, abort) before it ended: the outcome is `ok`
   * with `cancelled: true` (what was delivered is counted). Resolves or rejects like `end`.
   */
  cancel(): Promise<void>
}

export interface ExecuteOptions {
  /** Take a lease from the broker for this command and pass it in the context (default false). */
  readonly lease?: boolean | { readonly scope: string }
  /**
   * The approver for this command instead of the Warden's (e.g. an agent framework's own approval
   * step, bridged by guardTool). The pipeline still binds the outcome to the fingerprint and uses it once.
   */
  readonly approver?: import('./approval/approver.js').Approver
  /** The connection the command runs on (from `session.connect`): ownership checked, lease recorded. */
  readonly connection?: ConnectionGrant
}

/**
 * A credential for one physical connection, bound to the principal that opened it (from
 * `session.connect`). Pass it as `execute(..., {connection})` for every command on that
 * connection: core refuses commands from any other principal's session on it (audited as
 * `warden:connection-owner`) and records the lease id. Driver-facing; keep it in a `#private` field.
 */
export interface ConnectionGrant {
  readonly lease: Lease
  /** Opaque key of the owning principal (issuer, id, groups, claims). */
  readonly owner: string
}

export interface Session extends SessionSource {
  readonly id: string
  readonly principal: Principal
  readonly startedAt: Date
  /** Commands executed so far. */
  readonly operations: number
  readonly closed: boolean
  /** decide → approve → lease → run → mask → audit. The only implementation of that sequence. */
  execute<T>(
    command: Command,
    run: (context: ExecuteContext) => Promise<T> | T,
    options?: ExecuteOptions,
  ): Promise<T>
  /**
   * Decides without running (e.g. to filter a tool list). With `{audit: true}` the decision is
   * also written to the audit log (outcome `ok` or `denied`), for decisions that release data on
   * their own, such as revealing a Kubernetes Secret's values; a failing audit sink then denies.
   */
  check(command: Command, options?: { readonly audit?: boolean }): Decision
  /** A credential for a new physical connection, from the lease cache. Driver-facing. */
  lease(resource: Command['resource'], scope?: string): Promise<Lease>
  /**
   * What `lease()` would resolve to at once, synchronously, when the lease cache holds a valid
   * lease; undefined when `lease()` must wait (then call it). Driver-facing: saves the promises of a
   * credential lookup made on every command.
   */
  leaseIfHeld?(resource: Command['resource'], scope?: string): Lease | undefined
  /**
   * A lease for a new physical connection, bound to this session's principal, with its credential
   * type checked (ERR_WARDEN_BROKER otherwise). Driver-facing: see {@link ConnectionGrant}.
   */
  connect(
    resource: Command['resource'],
    options?: {
      readonly scope?: string
      readonly credentialType?: import('./broker/broker.js').Credential['type']
    },
  ): Promise<ConnectionGrant>
  /** Runs fn with this session ambient (AsyncLocalStorage). */
  run<R>(fn: () => R): R
  close(): Promise<void>
}

/** What drivers accept as their first argument: a Session, or the Warden (then the ambient session is used). */
export interface SessionSource {
  /** Resolves the session for the current async context; throws ERR_WARDEN_NO_SESSION when there is none. */
  current(): Session
}
