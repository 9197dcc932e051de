// The request model: the CEL environment of every rule (docs/request-model.md).
// Field names are a public contract: add fields, never rename them.

export type PrincipalType = 'service' | 'agent' | 'workload' | 'user'
export type ResourceKind = 'postgres' | 'mysql' | 'ssh' | 'kubernetes' | 'http' | 'tool'
export type Action =
  | 'sql.query'
  | 'ssh.exec'
  | 'ssh.shell'
  | 'sftp.read'
  | 'sftp.write'
  | 'sftp.remove'
  | 'ssh.forward'
  | `kube.${KubeVerb}`
  | 'http.request'
  | 'tool.call'
export type KubeVerb =
  | 'get'
  | 'list'
  | 'watch'
  | 'create'
  | 'update'
  | 'patch'
  | 'delete'
  | 'deletecollection'
  | 'exec'
  | 'attach'
  | 'portforward'
  /** Warden's own verb (no Kubernetes equivalent): reading a Secret's values; otherwise they are masked. */
  | 'reveal'
  /** Warden's own verb: acting as another user (`Impersonate-*` headers); refused unless a rule allows it. */
  | 'impersonate'

export interface Principal {
  readonly id: string
  readonly type: PrincipalType
  readonly groups: readonly string[]
  readonly claims: Readonly<Record<string, unknown>>
  readonly issuer: string
}

export interface ResourceRef {
  readonly kind: ResourceKind
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
}

export interface SqlStatementFacts {
  /** Upper-case statement type: SELECT, INSERT, UPDATE, DELETE, DROP, TRUNCATE, CREATE, ALTER, COPY, SET, ... */
  readonly type: string
  readonly reads: readonly string[]
  readonly writes: readonly string[]
  /** For UPDATE/DELETE: whether the statement has a WHERE clause. True for other types. */
  readonly where: boolean
  readonly functions: readonly string[]
}

/** Flags a SQL describer can raise. Lower-case snake names; policies test `"x" in sql.flags`. */
export type SqlFlag =
  | 'dynamic_sql'
  | 'copy_program'
  | 'copy_file'
  | 'do_block'
  | 'executable_comment'
  | 'lexer_setting'
  | 'load_data'
  | 'into_outfile'
  | 'handler'
  | 'prepare'
  | 'multi_statement'
  | (string & {})

/**
 * Side effects a SQL text can have that a read-only transaction does not stop (or that are writes
 * by another name). Lower-case snake names; policies test `"x" in sql.effects`. Effects that are
 * writes (`lock`, `sequence`, ...) also set `sql.write`.
 */
export type SqlEffect =
  /** Creates, writes or removes a large object (lo_create, lo_unlink, lo_put, lowrite, lo_import...). */
  | 'large_object'
  /** Reads or writes a file on the database server (lo_export, lo_import, pg_read_file, INTO OUTFILE...). */
  | 'server_file'
  /** Cancels or terminates another session (pg_cancel_backend, pg_terminate_backend, KILL). */
  | 'signal_backend'
  /** Changes or reloads server-wide configuration or state (ALTER SYSTEM, pg_reload_conf, pg_stat_reset, SET GLOBAL, FLUSH...). */
  | 'server_config'
  /** Sends a notification to other sessions (NOTIFY, pg_notify). LISTEN/UNLISTEN too. */
  | 'notify'
  /** Takes or releases an advisory (named) lock (pg_advisory_*, GET_LOCK). */
  | 'advisory_lock'
  /** Talks to another server (dblink, postgres_fdw connections). */
  | 'remote'
  /** Changes the session's identity or privileges (SET ROLE, SET SESSION AUTHORIZATION, set_config('role')). */
  | 'role_change'
  /** Runs a program on the database server (COPY ... PROGRAM). */
  | 'program'
  /** Takes a table or row lock (LOCK, SELECT ... FOR UPDATE/SHARE, LOCK TABLES). A write. */
  | 'lock'
  /** Advances or sets a sequence (nextval, setval). A write. */
  | 'sequence'
  /** Begins, ends or changes a transaction (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, SET TRANSACTION...). */
  | 'transaction_control'
  /** Changes a session setting that could alter how later text is run or enforced (set_config, SET ..., RESET ALL, DISCARD ALL). */
  | 'session_config'
  /** Writes to the write-ahead log or replication state (pg_switch_wal, pg_create_restore_point, slots, pg_logical_emit_message). */
  | 'wal'
  | (string & {})

export interface SqlFacts {
  readonly text: string
  readonly statements: readonly SqlStatementFacts[]
  /** Statement types in order (may repeat). */
  readonly types: readonly string[]
  readonly reads: readonly string[]
  readonly writes: readonly string[]
  /** reads ∪ writes, deduplicated. */
  readonly tables: readonly string[]
  /** Any statement writes data or schema. */
  readonly write: boolean
  /** An UPDATE/DELETE without WHERE anywhere, nested too. */
  readonly unbounded: boolean
  readonly functions: readonly string[]
  readonly flags: readonly SqlFlag[]
  /** Side effects outside the data (or beyond a read-only transaction), deduplicated; see SqlEffect. */
  readonly effects: readonly SqlEffect[]
  /** False when the text could not be fully classified; denied by default. */
  readonly parsed: boolean
  /** Why `parsed` is false ('' when parsed). Never contains parameter values. */
  readonly error: string
}

export interface ShellCommandFacts {
  readonly name: string
  readonly argv: readonly string[]
}

export type ShellFlag =
  | 'pipe'
  | 'redirect'
  | 'substitution'
  | 'subshell'
  | 'background'
  | 'sudo'
  | 'heredoc'
  | 'dynamic'
  | 'shell_from_stdin'
  // Appended by @warden/drivers/ssh (describeShell):
  | 'function'
  | 'env_assignment'
  | 'interpreter_code'
  | 'remote_command'
  // Issue 15: `redirect` is a write to a file; these name the rest, so stderr handling can be allowed.
  | 'fd_dup'
  | 'devnull'
  | 'redirect_in'
  // Run-time values evaluated as code: arithmetic or subscripts over variables, `${!x}`, `${x@P}`,
  // assignments to variables bash executes or trusts (PATH, BASH_CMDS, PROMPT_COMMAND, LD_*, …).
  | 'runtime_code'
  | (string & {})

export interface ShellFacts {
  readonly text: string
  readonly commands: readonly ShellCommandFacts[]
  /** Distinct program names (basename of argv[0]) of every command, unwrapped ones included. */
  readonly programs: readonly string[]
  readonly flags: readonly ShellFlag[]
  readonly parsed: boolean
  readonly error: string
}

export interface SftpFacts {
  readonly op: '' | 'read' | 'write' | 'remove' | 'list' | 'stat' | 'rename' | 'mkdir'
  readonly path: string
}

export interface ForwardFacts {
  readonly host: string
  readonly port: number
}

export interface KubeFacts {
  readonly verb: string
  readonly group: string
  readonly version: string
  readonly resource: string
  readonly subresource: string
  readonly namespace: string
  readonly name: string
  readonly command: readonly string[]
  readonly container: string
  /** True when the server only validates (`dryRun=All`): nothing is persisted. */
  readonly dryRun?: boolean
  /** The identity the request asks the API server to act as (`Impersonate-*` headers); empty when none. */
  readonly impersonate?: KubeImpersonateFacts
}

export interface KubeImpersonateFacts {
  readonly user: string
  readonly groups: readonly string[]
  readonly uid: string
  /** `Impersonate-Extra-<key>` values by key, decoded and lower-cased as the API server reads them. */
  readonly extras: Readonly<Record<string, readonly string[]>>
}

export interface HttpFacts {
  /**
   * The method the server acts on: the one named by a method-override header
   * (`X-HTTP-Method-Override`, `X-HTTP-Method`, `X-Method-Override`) when present, else the one sent.
   */
  readonly method: string
  /** The method on the wire (differs from `method` only when an override header is sent). */
  readonly wireMethod?: string
  /** The method an override header names (upper-case), '' when none is sent. */
  readonly methodOverride?: string
  readonly url: string
  readonly host: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  /** Lower-case names; credential headers removed. */
  readonly headers: Readonly<Record<string, string>>
}

export interface ToolFacts {
  readonly name: string
  readonly args: Readonly<Record<string, unknown>>
}

export interface SessionFacts {
  readonly id: string
  readonly startedAt: Date
  readonly operations: number
}

/** What earlier commands of the same causal chain (one agent run) touched. */
export interface FlowFacts {
  /** `kind:name` of resources read earlier, and `kind:name/table` for tables. */
  readonly reads: readonly string[]
  /** Labels from policy, e.g. `pii` after a masked column was read. */
  readonly tags: readonly string[]
}

/** A complete request, as every rule sees it. */
export interface Request {
  readonly principal: Principal
  readonly resource: ResourceRef
  readonly action: Action | ''
  readonly sql: SqlFacts
  readonly shell: ShellFacts
  readonly sftp: SftpFacts
  readonly forward: ForwardFacts
  readonly kube: KubeFacts
  readonly http: HttpFacts
  readonly tool: ToolFacts
  readonly session: SessionFacts
  readonly flow: FlowFacts
  readonly now: Date
}

type DeepPartial<T> = T extends Date
  ? T
  : T extends readonly (infer U)[]
    ? readonly U[]
    : T extends object
      ? { readonly [K in keyof T]?: DeepPartial<T[K]> }
      : T

/** A partial request; `decide` completes it with empty fields. */
export type RequestInput = DeepPartial<Request>
