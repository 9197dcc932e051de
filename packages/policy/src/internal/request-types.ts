// The request model as CEL types. Each part is a class so cel-js recognises instances by
// constructor (no per-access Map wrapping: measured ~2x faster than schema-declared plain objects).
// Keep in sync with ../request.ts; test/request-model.test.ts checks every field is declared.

const TS = 'google.protobuf.Timestamp' // cel-js 8 crashes on schema field type 'timestamp'

export class CelPrincipal {
  constructor(
    readonly id: string,
    readonly type: string,
    readonly groups: readonly string[],
    readonly claims: Readonly<Record<string, unknown>>,
    readonly issuer: string,
  ) {}
}
export class CelResource {
  constructor(
    readonly kind: string,
    readonly name: string,
    readonly labels: Readonly<Record<string, string>>,
  ) {}
}
export class CelSqlStatement {
  constructor(
    readonly type: string,
    readonly reads: readonly string[],
    readonly writes: readonly string[],
    readonly where: boolean,
    readonly functions: readonly string[],
  ) {}
}
export class CelSql {
  constructor(
    readonly text: string,
    readonly statements: readonly CelSqlStatement[],
    readonly types: readonly string[],
    readonly reads: readonly string[],
    readonly writes: readonly string[],
    readonly tables: readonly string[],
    readonly write: boolean,
    readonly unbounded: boolean,
    readonly functions: readonly string[],
    readonly flags: readonly string[],
    readonly parsed: boolean,
    readonly error: string,
    readonly effects: readonly string[],
  ) {}
}
export class CelShellCommand {
  constructor(
    readonly name: string,
    readonly argv: readonly string[],
  ) {}
}
export class CelShell {
  constructor(
    readonly text: string,
    readonly commands: readonly CelShellCommand[],
    readonly programs: readonly string[],
    readonly flags: readonly string[],
    readonly parsed: boolean,
    readonly error: string,
  ) {}
}
export class CelSftp {
  constructor(
    readonly op: string,
    readonly path: string,
  ) {}
}
export class CelForward {
  constructor(
    readonly host: string,
    readonly port: bigint,
  ) {}
}
export class CelKube {
  constructor(
    readonly verb: string,
    readonly group: string,
    readonly version: string,
    readonly resource: string,
    readonly subresource: string,
    readonly namespace: string,
    readonly name: string,
    readonly command: readonly string[],
    readonly container: string,
    readonly dryRun: boolean,
    readonly impersonate: CelKubeImpersonate,
  ) {}
}
export class CelKubeImpersonate {
  constructor(
    readonly user: string,
    readonly groups: readonly string[],
    readonly uid: string,
    readonly extras: Readonly<Record<string, readonly string[]>>,
  ) {}
}
export class CelHttp {
  constructor(
    readonly method: string,
    readonly url: string,
    readonly host: string,
    readonly path: string,
    readonly query: Readonly<Record<string, string>>,
    readonly headers: Readonly<Record<string, string>>,
    readonly wireMethod: string,
    readonly methodOverride: string,
  ) {}
}
export class CelTool {
  constructor(
    readonly name: string,
    readonly args: Readonly<Record<string, unknown>>,
  ) {}
}
export class CelSession {
  constructor(
    readonly id: string,
    readonly startedAt: Date,
    readonly operations: bigint,
  ) {}
}
export class CelFlow {
  constructor(
    readonly reads: readonly string[],
    readonly tags: readonly string[],
  ) {}
}

/** The CEL context of one request (what `fn(context)` receives). */
export interface CelContext {
  readonly principal: CelPrincipal
  readonly resource: CelResource
  readonly action: string
  readonly sql: CelSql
  readonly shell: CelShell
  readonly sftp: CelSftp
  readonly forward: CelForward
  readonly kube: CelKube
  readonly http: CelHttp
  readonly tool: CelTool
  readonly session: CelSession
  readonly flow: CelFlow
  readonly now: Date
}

const L = 'list<string>'
const M = 'map<string, string>'
const D = 'map<string, dyn>'

type TypeDef = { name: string; ctor: new (...args: never[]) => object; fields: Record<string, string> }

const types: TypeDef[] = [
  {
    name: 'warden.Principal',
    ctor: CelPrincipal,
    fields: { id: 'string', type: 'string', groups: L, claims: D, issuer: 'string' },
  },
  { name: 'warden.Resource', ctor: CelResource, fields: { kind: 'string', name: 'string', labels: M } },
  {
    name: 'warden.SqlStatement',
    ctor: CelSqlStatement,
    fields: { type: 'string', reads: L, writes: L, where: 'bool', functions: L },
  },
  {
    name: 'warden.Sql',
    ctor: CelSql,
    fields: {
      text: 'string',
      statements: 'list<warden.SqlStatement>',
      types: L,
      reads: L,
      writes: L,
      tables: L,
      write: 'bool',
      unbounded: 'bool',
      functions: L,
      flags: L,
      effects: L,
      parsed: 'bool',
      error: 'string',
    },
  },
  { name: 'warden.ShellCommand', ctor: CelShellCommand, fields: { name: 'string', argv: L } },
  {
    name: 'warden.Shell',
    ctor: CelShell,
    fields: {
      text: 'string',
      commands: 'list<warden.ShellCommand>',
      programs: L,
      flags: L,
      parsed: 'bool',
      error: 'string',
    },
  },
  { name: 'warden.Sftp', ctor: CelSftp, fields: { op: 'string', path: 'string' } },
  { name: 'warden.Forward', ctor: CelForward, fields: { host: 'string', port: 'int' } },
  {
    name: 'warden.Kube',
    ctor: CelKube,
    fields: {
      verb: 'string',
      group: 'string',
      version: 'string',
      resource: 'string',
      subresource: 'string',
      namespace: 'string',
      name: 'string',
      command: L,
      container: 'string',
      dryRun: 'bool',
      impersonate: 'warden.KubeImpersonate',
    },
  },
  {
    name: 'warden.KubeImpersonate',
    ctor: CelKubeImpersonate,
    fields: { user: 'string', groups: L, uid: 'string', extras: 'map<string, list<string>>' },
  },
  {
    name: 'warden.Http',
    ctor: CelHttp,
    fields: {
      method: 'string',
      url: 'string',
      host: 'string',
      path: 'string',
      query: M,
      headers: M,
      wireMethod: 'string',
      methodOverride: 'string',
    },
  },
  { name: 'warden.Tool', ctor: CelTool, fields: { name: 'string', args: D } },
  { name: 'warden.Session', ctor: CelSession, fields: { id: 'string', startedAt: TS, operations: 'int' } },
  { name: 'warden.Flow', ctor: CelFlow, fields: { reads: L, tags: L } },
]

const variables: [string, string][] = [
  ['principal', 'warden.Principal'],
  ['resource', 'warden.Resource'],
  ['action', 'string'],
  ['sql', 'warden.Sql'],
  ['shell', 'warden.Shell'],
  ['sftp', 'warden.Sftp'],
  ['forward', 'warden.Forward'],
  ['kube', 'warden.Kube'],
  ['http', 'warden.Http'],
  ['tool', 'warden.Tool'],
  ['session', 'warden.Session'],
  ['flow', 'warden.Flow'],
  ['now', TS],
]

export const REQUEST_TYPES = { types, variables } as const
