import { AsyncLocalStorage } from 'node:async_hooks'
import { readFileSync } from 'node:fs'
import type { Command, SessionSource } from '@warden/core'
import { WardenError, WardenTypeError } from '@warden/policy'
import { Agent } from 'undici'
import { assertSupportedClient, k8s, type RequestContext } from './internal/kube-internals.js'
import { KubeTransport } from './internal/transport.js'

/** The cluster the KubeConfig talks to. Credentials are not part of it: they come from the broker. */
export interface KubeClusterOptions {
  /** `https://host:port` of the API server (a path prefix is allowed). Its origin is the only one that gets the token. */
  readonly server: string
  readonly name?: string
  /** Base64 PEM of the cluster CA, as in a kubeconfig's `certificate-authority-data`. */
  readonly caData?: string
  /** Path to a PEM CA file (read once, at construction). */
  readonly caFile?: string
  readonly skipTLSVerify?: boolean
  readonly tlsServerName?: string
}

export interface KubeConfigOptions {
  /** The resource name policies match on (`kubernetes:<resource>`). */
  readonly resource: string
  readonly labels?: Readonly<Record<string, string>>
  /** Lease scope passed to the broker (default ''). */
  readonly scope?: string
  readonly cluster: KubeClusterOptions
  /** Default namespace of the context (used by KubernetesObjectApi). */
  readonly namespace?: string
  /** Buffered JSON responses larger than this fail closed (default 64 MiB). */
  readonly maxBufferBytes?: number
}

const transports = new WeakMap<object, KubeTransport>()
/** Set only while a guarded WebSocket handler dials: the bearer value for that one connection. */
const wsAuthorization = new AsyncLocalStorage<string>()

/** The guarded transport behind a KubeConfig of ours; anything else is refused. */
export function transportOf(kc: unknown): KubeTransport {
  const t = typeof kc === 'object' && kc !== null ? transports.get(kc) : undefined
  if (t === undefined)
    throw new WardenError(
      'ERR_WARDEN_CONFIG',
      'expected a KubeConfig from @warden/drivers/kube (new KubeConfig(session, options))',
    )
  return t
}

/** Runs a WebSocket dial with `authorization` available to applyToHTTPSOptions (and nowhere else). */
export function withWebSocketAuthorization<T>(authorization: string, dial: () => Promise<T>): Promise<T> {
  return wsAuthorization.run(authorization, dial)
}

const refuseLoad = (method: string): never => {
  throw new WardenError(
    'ERR_WARDEN_CONFIG',
    `KubeConfig.${method}() is disabled: it would load ambient credentials; pass the cluster to new KubeConfig(session, { resource, cluster })`,
  )
}

/**
 * A `@kubernetes/client-node` KubeConfig whose every request goes through Warden: REST calls from
 * `makeApiClient(...)` and `KubernetesObjectApi`, and (with this module's `Watch`, `Log`, `Exec`, `Attach`,
 * `PortForward`) streams and WebSockets. Each is described as `kube` facts (action `kube.<verb>`), decided,
 * audited and masked; the bearer token comes from the broker per request and is sent only to `cluster.server`'s
 * origin. Secret `data`/`stringData` are masked unless policy allows `kube.reveal`.
 * Exported from `@warden/drivers/kube`. Throws `ERR_WARDEN_CONFIG`; requests reject with `ERR_WARDEN_DENIED`,
 * `ERR_WARDEN_APPROVAL_REJECTED`, `ERR_WARDEN_BROKER`, `ERR_WARDEN_MASKING`.
 * @example
 * const kc = new KubeConfig(warden, { resource: 'prod', cluster: { server: 'https://k8s.internal:6443', caData } })
 * const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'default' })
 */
export class KubeConfig extends k8s.KubeConfig {
  readonly #http: ReturnType<typeof k8s.wrapHttpLibrary>
  readonly #server: string

  constructor(source: SessionSource, options: KubeConfigOptions) {
    assertSupportedClient()
    super()
    if (typeof source?.current !== 'function')
      throw new WardenTypeError('KubeConfig: the first argument must be a Session or a Warden')
    if (typeof options?.resource !== 'string' || options.resource === '')
      throw new WardenTypeError('KubeConfig: "resource" must be a non-empty string')
    const cluster = options.cluster
    let url: URL
    try {
      url = new URL(cluster?.server)
    } catch {
      throw new WardenTypeError(
        'KubeConfig: "cluster.server" must be an absolute URL such as https://k8s.internal:6443',
      )
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:')
      throw new WardenTypeError('KubeConfig: "cluster.server" must be http(s)')
    if (url.username !== '' || url.password !== '')
      throw new WardenTypeError('KubeConfig: "cluster.server" must not carry credentials')
    const maxBufferBytes = options.maxBufferBytes ?? 64 * 2 ** 20
    if (!Number.isInteger(maxBufferBytes) || maxBufferBytes <= 0)
      throw new WardenTypeError('KubeConfig: "maxBufferBytes" must be > 0')
    const ca = cluster.caFile
      ? readFileSync(cluster.caFile)
      : cluster.caData
        ? Buffer.from(cluster.caData, 'base64')
        : undefined
    const name = cluster.name ?? 'warden'
    this.#server = cluster.server.replace(/\/+$/, '')
    // The user entry is deliberately empty: no token, no exec plugin, nothing util.inspect could print.
    super.loadFromOptions({
      clusters: [
        {
          name,
          server: this.#server,
          caData: cluster.caData,
          caFile: cluster.caFile,
          skipTLSVerify: cluster.skipTLSVerify ?? false,
          tlsServerName: cluster.tlsServerName,
        },
      ],
      users: [{ name: 'warden' }],
      contexts: [{ name: 'warden', cluster: name, user: 'warden', namespace: options.namespace }],
      currentContext: 'warden',
    })
    const dispatcher = new Agent({
      connect: {
        ...(ca ? { ca } : {}),
        rejectUnauthorized: !(cluster.skipTLSVerify ?? false),
        ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
      },
    })
    const resource: Command['resource'] = Object.freeze({
      kind: 'kubernetes',
      name: options.resource,
      ...(options.labels ? { labels: Object.freeze({ ...options.labels }) } : {}),
    })
    const transport = new KubeTransport({
      source,
      resource,
      scope: options.scope,
      server: this.#server,
      dispatcher,
      maxBufferBytes,
    })
    transports.set(this, transport)
    // The generated clients' HTTP library: our transport, so masking sits below any per-call middleware.
    this.#http = k8s.wrapHttpLibrary({
      send: async (ctx: RequestContext) => {
        const res = await transport.rest(
          ctx.getHttpMethod().toString(),
          new URL(ctx.getUrl()),
          ctx.getHeaders(),
          ctx.getBody(),
          ctx.getSignal(),
        )
        return new k8s.ResponseContext(res.status, res.headers, {
          text: async () => res.text,
          binary: async () => Buffer.from(res.text, 'utf8'),
        })
      },
    })
  }

  /** Like upstream, but the client's HTTP library is Warden's (policy, broker token, masking). */
  override makeApiClient<T extends k8s.ApiType>(apiClientType: k8s.ApiConstructor<T>): T {
    const config = k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration<Record<string, string>>(this.#server, {}),
      authMethods: { default: this },
      httpApi: this.#http,
    })
    return new apiClientType(config)
  }

  /** Adds no credential (the transport does, per request); refuses a per-call baseServer on another origin. */
  override async applySecurityAuthentication(context: RequestContext): Promise<void> {
    transportOf(this).assertOrigin(new URL(context.getUrl()))
  }

  /** Only for WebSockets dialled by this module's handler (Exec, Attach, PortForward); anything else fails closed. */
  override async applyToHTTPSOptions(
    opts: Parameters<k8s.KubeConfig['applyToHTTPSOptions']>[0],
  ): Promise<void> {
    const authorization = wsAuthorization.getStore()
    if (authorization === undefined)
      throw new WardenError(
        'ERR_WARDEN_UNSUPPORTED',
        'this KubeConfig only opens WebSockets through Exec, Attach and PortForward from @warden/drivers/kube',
      )
    const transport = transportOf(this)
    transport.assertOrigin(new URL(this.getCurrentCluster()?.server ?? 'invalid:'))
    const user = this.getCurrentUser() as Record<string, unknown> | null
    if (user && Object.entries(user).some(([k, v]) => k !== 'name' && v !== undefined))
      throw new WardenError(
        'ERR_WARDEN_CONFIG',
        'the KubeConfig user must carry no credentials; they come from the broker',
      )
    await super.applyToHTTPSOptions(opts)
    const o = opts as { headers?: Record<string, string> }
    o.headers = { ...(o.headers ?? {}), Authorization: authorization }
  }

  /** Used by upstream Watch/Log/Metrics in 1.x: refused, use this module's Watch and Log. */
  override async applyToFetchOptions(): Promise<never> {
    throw new WardenError(
      'ERR_WARDEN_UNSUPPORTED',
      'use Watch and Log from @warden/drivers/kube with this KubeConfig',
    )
  }

  override loadFromDefault(): void {
    refuseLoad('loadFromDefault')
  }
  override loadFromFile(): void {
    refuseLoad('loadFromFile')
  }
  override loadFromString(): void {
    refuseLoad('loadFromString')
  }
  override loadFromOptions(): void {
    refuseLoad('loadFromOptions')
  }
  override loadFromCluster(): void {
    refuseLoad('loadFromCluster')
  }
  override loadFromClusterAndUser(): void {
    refuseLoad('loadFromClusterAndUser')
  }
  override mergeConfig(): void {
    refuseLoad('mergeConfig')
  }
  override addUser(): void {
    refuseLoad('addUser')
  }
}
