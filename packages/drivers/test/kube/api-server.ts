// A Kubernetes API server double: the only test double in the driver tests, because no real kube-apiserver can
// run on these machines. It speaks the real wire protocol over real HTTP(S) sockets, so @kubernetes/client-node
// runs unmodified against it:
//  - discovery: /version, /api, /apis, /api/v1 (APIResourceList with subresources)
//  - core/v1 namespaces (cluster-scoped), pods, secrets, configmaps: get, list, create, replace, merge/strategic
//    patch, delete, deletecollection; dryRun=All; Status objects (NotFound, AlreadyExists, Conflict, Unauthorized,
//    BadRequest, MethodNotAllowed) on errors; Secret stringData folded into base64 data as the real server does
//  - list/watch: resourceVersion on every object and list; watch=true (and /api/v1/watch/...) streams
//    newline-delimited JSON events {type, object}, replaying history after a given resourceVersion
//  - pods/log (container check, tailLines, follow), pods/exec and pods/attach over the v5/v4 WebSocket channel
//    protocol (channel byte 0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize, 255 close in v5), pods/portforward
//  - bearer tokens: every request and upgrade must carry one the test accepts; every Authorization value seen is
//    recorded so tests prove which token reached the server.
//  - content negotiation on object responses (Accept, by q then order; 406 when nothing fits): JSON;
//    `application/yaml`; `application/vnd.kubernetes.protobuf` (the `k8s\0` + runtime.Unknown envelope, for
//    single Secrets and ConfigMaps only); `application/json;as=Table;v=v1;g=meta.k8s.io` (columnDefinitions +
//    rows of cells and, per `includeObject` None/Metadata/Object, the object; on watch, column definitions in the
//    first event only) and `as=PartialObjectMetadata` / `as=PartialObjectMetadataList`. Watch streams JSON only.
//  - paths decoded as Go's net/url decodes them (the API server routes on the decoded path: `%2F` is a "/",
//    an invalid escape is 400), optionally mounted under a path prefix (`basePath`, as behind a gateway
//    that strips it); `Impersonate-*` headers are recorded per request (no RBAC: they are not acted on)
//  - test hooks for what a real API server does not do: `redirect()` answers a 307 on a path, `echoAuthorization()`
//    reflects the caller's Authorization (as a misbehaving aggregated API or proxied backend), and `ignoreAccept`
//    answers YAML or protobuf whatever the client asked for (a server or intermediary ignoring Accept).
// Not implemented (a real server has them): RBAC, admission, other API groups, JSON patch, CBOR, Status objects
// in encodings other than JSON.
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo, Socket } from 'node:net'
import { type WebSocket, WebSocketServer } from 'ws'

type Obj = Record<string, any>

export interface ExecRequest {
  readonly namespace: string
  readonly pod: string
  readonly container: string
  readonly command: readonly string[]
}
export interface ExecResult {
  readonly stdout?: string
  readonly stderr?: string
  readonly exitCode?: number
}

export interface ApiServerOptions {
  /** Accepts a bearer token (the broker's). Requests without an accepted token get 401. */
  readonly acceptToken: (token: string) => boolean
  /** TLS key and certificate (PEM): serve HTTPS instead of HTTP. */
  readonly tls?: { readonly key: string; readonly cert: string }
  /** Runs an exec command (no process is ever spawned). Default: `echo`, `cat` (echoes stdin), `hostname`, `exit N`. */
  readonly exec?: (request: ExecRequest, stdin: string) => ExecResult
  /** Channel protocols the server accepts, in preference order (default v5 then v4). */
  readonly channelProtocols?: readonly string[]
  /** Serve under this path prefix (`/k8s`): anything outside it is 404, the rest is routed without it. */
  readonly basePath?: string
}

export interface SeenRequest {
  readonly method: string
  readonly url: string
  readonly authorization: string | undefined
  readonly acceptEncoding: string | undefined
  readonly accept?: string
  readonly protocol?: string
  /** The path as routed: under basePath, percent-decoded (undefined when it did not decode). */
  readonly path?: string
  /** `impersonate-*` headers, lower-case names, each value as received. */
  readonly impersonate?: Readonly<Record<string, string | string[]>>
}

/** A negotiated response encoding for API objects. */
type Encoding =
  | { readonly type: 'json' }
  | { readonly type: 'yaml' }
  | { readonly type: 'protobuf' }
  | { readonly type: 'table' }
  | { readonly type: 'metadata' }

const RESOURCES: Record<string, { kind: string; namespaced: boolean; verbs: string[] }> = {
  namespaces: {
    kind: 'Namespace',
    namespaced: false,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
  },
  pods: {
    kind: 'Pod',
    namespaced: true,
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  },
  secrets: {
    kind: 'Secret',
    namespaced: true,
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  },
  configmaps: {
    kind: 'ConfigMap',
    namespaced: true,
    verbs: ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'],
  },
}
const SUBRESOURCES: Record<string, { kind: string; verbs: string[] }> = {
  'pods/log': { kind: 'Pod', verbs: ['get'] },
  'pods/exec': { kind: 'PodExecOptions', verbs: ['create', 'get'] },
  'pods/attach': { kind: 'PodAttachOptions', verbs: ['create', 'get'] },
  'pods/portforward': { kind: 'PodPortForwardOptions', verbs: ['create', 'get'] },
}

interface WatchEvent {
  readonly rv: number
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED'
  readonly resource: string
  readonly object: Obj
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Obj,
  ) {
    super(message)
  }
}

export class KubeApiServer {
  readonly seen: SeenRequest[] = []
  /** Test hook: answer object responses in this encoding whatever Accept says. */
  ignoreAccept: 'yaml' | 'protobuf' | undefined
  readonly #redirects = new Map<string, string>()
  readonly #echoes = new Set<string>()
  readonly #options: ApiServerOptions
  readonly #server: http.Server
  readonly #wss: WebSocketServer
  readonly #store = new Map<string, Obj>() // key: resource/namespace/name
  readonly #history: WatchEvent[] = []
  readonly #watchers = new Set<(e: WatchEvent) => void>()
  readonly #logs = new Map<string, string[]>() // ns/pod/container → lines
  readonly #logFollowers = new Set<(key: string, line: string) => void>()
  readonly #sockets = new Set<Socket>()
  /** Open watches and followed logs, with when the server started answering each. */
  readonly #streams = new Set<{ readonly since: number; readonly res: http.ServerResponse }>()
  #rv = 1

  constructor(options: ApiServerOptions) {
    this.#options = options
    const accepted = options.channelProtocols ?? CHANNEL_PROTOCOLS
    this.#wss = new WebSocketServer({
      noServer: true,
      handleProtocols: (offered: Set<string>) => accepted.find((p) => offered.has(p)) ?? false,
    })
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.#handle(req, res).catch((err) => {
        if (!res.headersSent)
          sendStatus(res, new HttpError(500, 'InternalError', String(err?.message ?? err)))
        else res.destroy()
      })
    }
    this.#server = options.tls
      ? https.createServer({ key: options.tls.key, cert: options.tls.cert }, handler)
      : http.createServer(handler)
    this.#server.on('connection', (s: Socket) => {
      this.#sockets.add(s)
      s.on('close', () => this.#sockets.delete(s))
    })
    this.#server.on('secureConnection', (s: Socket) => {
      this.#sockets.add(s)
      s.on('close', () => this.#sockets.delete(s))
    })
    this.#server.on('upgrade', (req, socket, head) => this.#upgrade(req, socket as Socket, head))
    this.#put('namespaces', '', { metadata: { name: 'default' } })
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    const { port } = this.#server.address() as AddressInfo
    return `${this.#options.tls ? 'https' : 'http'}://127.0.0.1:${port}`
  }

  async close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate()
    for (const s of this.#sockets) s.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  /** Seeds an object directly (no auth, no event filtering): for test setup. */
  seed(resource: string, namespace: string, object: Obj): Obj {
    return this.#write(resource, namespace, object, 'create')
  }

  get(resource: string, namespace: string, name: string): Obj | undefined {
    const o = this.#store.get(`${resource}/${namespace}/${name}`)
    return o === undefined ? undefined : structuredClone(o)
  }

  /** Appends log lines for a container (streamed to followers). */
  appendLog(namespace: string, pod: string, container: string, ...lines: string[]): void {
    const key = `${namespace}/${pod}/${container}`
    const list = this.#logs.get(key) ?? []
    this.#logs.set(key, list)
    for (const line of lines) {
      list.push(line)
      for (const f of this.#logFollowers) f(key, line)
    }
  }

  /**
   * Test hook: ends every open watch and followed log as the server would (a watch timeout, a
   * container that exited), or breaks their connections (`break`). Resolves, once each response
   * is finished, with how long the server held each open in ms, measured by the server itself.
   */
  async endStreams(how: 'end' | 'break' = 'end'): Promise<number[]> {
    const held = [...this.#streams].map(
      ({ since, res }) =>
        new Promise<number>((resolve) => {
          if (how === 'break') {
            res.socket?.destroy()
            resolve(performance.now() - since)
          } else res.end(() => resolve(performance.now() - since))
        }),
    )
    this.#streams.clear()
    return Promise.all(held)
  }

  /** How many watches and followed logs are open now. */
  get openStreams(): number {
    return this.#streams.size
  }

  #track(res: http.ServerResponse): void {
    const entry = { since: performance.now(), res }
    this.#streams.add(entry)
    res.on('close', () => this.#streams.delete(entry))
  }

  get resourceVersion(): number {
    return this.#rv
  }

  /**
   * Test hook: requests for exactly `path` (as sent) are answered with the caller's Authorization header,
   * in a header and a JSON body: an aggregated API or proxied backend reflecting what it got.
   */
  echoAuthorization(path: string): void {
    this.#echoes.add(path)
  }

  /** Test hook: requests for exactly `path` are answered `307 Temporary Redirect` to `location`. */
  redirect(path: string, location: string): void {
    this.#redirects.set(path, location)
  }

  // ---- HTTP

  #authorize(req: http.IncomingMessage): void {
    const auth = req.headers.authorization
    const m = /^Bearer (.+)$/.exec(auth ?? '')
    if (!m || !this.#options.acceptToken(m[1]!)) throw new HttpError(401, 'Unauthorized', 'Unauthorized')
  }

  /** The request path as the API server routes it: under basePath, then percent-decoded (Go net/url). */
  #path(req: http.IncomingMessage): string {
    const raw = req.url!.split('?')[0]!
    const base = (this.#options.basePath ?? '').replace(/\/+$/, '')
    if (base !== '' && raw !== base && !raw.startsWith(`${base}/`))
      throw new HttpError(404, 'NotFound', 'the server could not find the requested resource')
    return goUnescapePath(raw.slice(base.length) || '/')
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const seen: SeenRequest = {
      method: req.method!,
      url: req.url!,
      authorization: req.headers.authorization,
      acceptEncoding: req.headers['accept-encoding'] as string | undefined,
      accept: req.headers.accept,
      impersonate: impersonationHeaders(req),
    }
    this.seen.push(seen)
    try {
      const location = this.#redirects.get(new URL(req.url!, 'http://x').pathname)
      if (location !== undefined) {
        res.writeHead(307, { location, 'content-length': 0 })
        res.end()
        return
      }
      const path = this.#path(req)
      Object.assign(seen, { path })
      this.#authorize(req)
      if (this.#echoes.has(req.url!.split('?')[0]!)) {
        const authorization = String(req.headers.authorization)
        res.writeHead(200, { 'content-type': 'application/json', 'x-echo': authorization })
        res.end(
          JSON.stringify({ kind: 'Echo', apiVersion: 'v1', authorization, token: authorization.slice(7) }),
        )
        return
      }
      const url = new URL(req.url!, 'http://x')
      const body = await readBody(req)
      await this.#route(req.method!, path, url, body, req, res)
    } catch (err) {
      if (err instanceof HttpError) sendStatus(res, err)
      else throw err
    }
  }

  async #route(
    method: string,
    path: string,
    url: URL,
    body: string,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> {
    const p = path.replace(/\/+$/, '')
    if (method === 'GET' && p === '/version')
      return sendJson(res, 200, { major: '1', minor: '31', gitVersion: 'v1.31.0-double' })
    if (method === 'GET' && p === '/api')
      return sendJson(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] })
    if (method === 'GET' && p === '/apis')
      return sendJson(res, 200, { kind: 'APIGroupList', apiVersion: 'v1', groups: [] })
    if (method === 'GET' && p === '/api/v1') return sendJson(res, 200, resourceList())
    // k8s.io/apiserver splitPath: trimmed of "/" and split on the decoded path; empty segments route nowhere.
    const parts = p.replace(/^\/+/, '').split('/')
    if (parts[0] !== 'api' || parts[1] !== 'v1' || parts.includes(''))
      throw new HttpError(404, 'NotFound', 'the server could not find the requested resource')
    let rest = parts.slice(2)
    let watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1'
    if (rest[0] === 'watch') {
      watch = true
      rest = rest.slice(1)
    }
    let namespace = ''
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1]!
      rest = rest.slice(2)
    }
    const [resource, name, subresource] = rest as [string, string | undefined, string | undefined]
    const def = RESOURCES[resource]
    if (def === undefined || rest.length > 3)
      throw new HttpError(404, 'NotFound', 'the server could not find the requested resource')
    if (def.namespaced && namespace === '' && name !== undefined)
      throw new HttpError(404, 'NotFound', 'the server could not find the requested resource')
    if (namespace !== '' && !this.#store.has(`namespaces//${namespace}`) && method === 'POST')
      throw new HttpError(404, 'NotFound', `namespaces "${namespace}" not found`, {
        name: namespace,
        kind: 'namespaces',
      })
    const dryRun = url.searchParams.getAll('dryRun')
    if (dryRun.some((d) => d !== 'All'))
      throw new HttpError(400, 'BadRequest', `Invalid dry run value: ${dryRun.join(',')}`)
    const dry = dryRun.length > 0
    const enc = negotiate(req.headers.accept, this.ignoreAccept)
    const send = (code: number, value: Obj) => sendObject(res, code, value, enc, resource, url)

    if (subresource !== undefined) {
      if (resource === 'pods' && subresource === 'log' && method === 'GET')
        return this.#log(namespace, name!, url, res)
      if (resource === 'pods' && ['exec', 'attach', 'portforward'].includes(subresource))
        throw new HttpError(400, 'BadRequest', 'Upgrade request required')
      throw new HttpError(404, 'NotFound', 'the server could not find the requested resource')
    }
    if (name === undefined) {
      if (method === 'GET' && watch) return this.#watch(resource, namespace, url, req, res, enc)
      if (method === 'GET') return send(200, this.#list(resource, namespace, url))
      if (method === 'POST') {
        const obj = parseObject(body)
        if (obj.kind !== undefined && obj.kind !== def.kind)
          throw new HttpError(400, 'BadRequest', `kind ${obj.kind} does not match ${def.kind}`)
        return send(201, this.#write(resource, namespace, obj, 'create', dry))
      }
      if (method === 'DELETE') {
        const items = this.#select(resource, namespace, url)
        if (!dry) for (const o of items) this.#remove(resource, namespace, o.metadata.name)
        return send(200, {
          kind: `${def.kind}List`,
          apiVersion: 'v1',
          metadata: { resourceVersion: String(this.#rv) },
          items,
        })
      }
      throw new HttpError(
        405,
        'MethodNotAllowed',
        `the server does not allow this method on the requested resource`,
      )
    }
    const key = `${resource}/${namespace}/${name}`
    const current = this.#store.get(key)
    if (method === 'GET') {
      if (watch) return this.#watch(resource, namespace, url, req, res, enc, name)
      if (!current) throw notFound(resource, name)
      return send(200, current)
    }
    if (method === 'PUT') {
      const obj = parseObject(body)
      if (!current) throw notFound(resource, name)
      if (obj.metadata?.name !== name)
        throw new HttpError(400, 'BadRequest', 'the name of the object does not match the name on the URL')
      const rv = obj.metadata?.resourceVersion
      if (rv !== undefined && rv !== current.metadata.resourceVersion)
        throw new HttpError(
          409,
          'Conflict',
          `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          { name, kind: resource },
        )
      return send(200, this.#write(resource, namespace, obj, 'update', dry))
    }
    if (method === 'PATCH') {
      if (!current) throw notFound(resource, name)
      const type = String(req.headers['content-type'] ?? '').split(';')[0]
      if (type !== 'application/merge-patch+json' && type !== 'application/strategic-merge-patch+json')
        throw new HttpError(
          415,
          'UnsupportedMediaType',
          `the double supports merge and strategic-merge patches, not ${type}`,
        )
      const merged = mergePatch(structuredClone(current), parseObject(body))
      return send(200, this.#write(resource, namespace, merged, 'update', dry))
    }
    if (method === 'DELETE') {
      if (!current) throw notFound(resource, name)
      if (dry) return send(200, current)
      this.#remove(resource, namespace, name)
      if (resource === 'namespaces') return send(200, { ...current, status: { phase: 'Terminating' } })
      return sendJson(res, 200, {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, kind: resource, uid: current.metadata.uid },
      })
    }
    throw new HttpError(
      405,
      'MethodNotAllowed',
      'the server does not allow this method on the requested resource',
    )
  }

  #list(resource: string, namespace: string, url: URL): Obj {
    const def = RESOURCES[resource]!
    // A real list leaves kind/apiVersion off its items.
    const items = this.#select(resource, namespace, url).map(({ kind: _k, apiVersion: _a, ...rest }) => rest)
    return {
      kind: `${def.kind}List`,
      apiVersion: 'v1',
      metadata: { resourceVersion: String(this.#rv) },
      items,
    }
  }

  #select(resource: string, namespace: string, url: URL, name?: string): Obj[] {
    const labels = parseSelector(url.searchParams.get('labelSelector'))
    const fields = parseSelector(url.searchParams.get('fieldSelector'))
    const out: Obj[] = []
    for (const [key, o] of this.#store) {
      if (!key.startsWith(`${resource}/`)) continue
      if (matches(o, resource, namespace, labels, fields, name)) out.push(structuredClone(o))
    }
    return out
  }

  #watch(
    resource: string,
    namespace: string,
    url: URL,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    enc: Encoding,
    name?: string,
  ): void {
    const labels = parseSelector(url.searchParams.get('labelSelector'))
    const fields = parseSelector(url.searchParams.get('fieldSelector'))
    const from = url.searchParams.get('resourceVersion')
    if (enc.type === 'yaml' || enc.type === 'metadata')
      throw new HttpError(406, 'NotAcceptable', `the double does not stream watch events as ${enc.type}`)
    const protobuf = enc.type === 'protobuf'
    res.writeHead(200, {
      'content-type': protobuf ? 'application/vnd.kubernetes.protobuf;stream=watch' : 'application/json',
      'transfer-encoding': 'chunked',
    })
    // Like the real server: headers go out at once, events follow as they happen.
    res.flushHeaders()
    this.#track(res)
    // As Tables, only the first event carries the column definitions.
    let first = true
    const send = (type: string, object: Obj) => {
      if (protobuf) {
        // Length-prefixed frames, each an envelope around a meta/v1 WatchEvent{type, object: {raw}}.
        const event = Buffer.concat([pbBytes(1, type), pbBytes(2, pbBytes(1, protobufEnvelope(object)))])
        const frame = envelope('v1', 'WatchEvent', event)
        const length = Buffer.alloc(4)
        length.writeUInt32BE(frame.byteLength)
        res.write(Buffer.concat([length, frame]))
        return
      }
      const out = enc.type === 'table' && type !== 'ERROR' ? toTable(resource, [object], url, first) : object
      first = false
      res.write(`${JSON.stringify({ type, object: out })}\n`)
    }
    if (from === null || from === '' || from === '0') {
      for (const o of this.#select(resource, namespace, url, name)) send('ADDED', o)
    } else {
      const since = Number(from)
      if (!Number.isInteger(since)) {
        send('ERROR', {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'BadRequest',
          code: 400,
          message: 'invalid resourceVersion',
        })
        res.end()
        return
      }
      for (const e of this.#history)
        if (
          e.rv > since &&
          e.resource === resource &&
          matches(e.object, resource, namespace, labels, fields, name)
        )
          send(e.type, e.object)
    }
    const listener = (e: WatchEvent) => {
      if (e.resource === resource && matches(e.object, resource, namespace, labels, fields, name))
        send(e.type, e.object)
    }
    this.#watchers.add(listener)
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0)
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined
    const stop = () => {
      this.#watchers.delete(listener)
      clearTimeout(timer)
    }
    req.on('close', stop)
    res.on('close', stop)
  }

  #log(namespace: string, pod: string, url: URL, res: http.ServerResponse): void {
    const p = this.#store.get(`pods/${namespace}/${pod}`)
    if (!p) throw notFound('pods', pod)
    const containers: string[] = (p.spec?.containers ?? []).map((c: Obj) => c.name)
    let container = url.searchParams.get('container') ?? ''
    if (container === '') {
      if (containers.length !== 1)
        throw new HttpError(
          400,
          'BadRequest',
          `a container name must be specified for pod ${pod}, choose one of: [${containers.join(' ')}]`,
        )
      container = containers[0]!
    }
    if (!containers.includes(container))
      throw new HttpError(400, 'BadRequest', `container ${container} is not valid for pod ${pod}`)
    const key = `${namespace}/${pod}/${container}`
    let lines = this.#logs.get(key) ?? []
    const tail = url.searchParams.get('tailLines')
    if (tail !== null) lines = lines.slice(-Number(tail))
    res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' })
    res.flushHeaders()
    for (const line of lines) res.write(`${line}\n`)
    if (url.searchParams.get('follow') !== 'true') {
      res.end()
      return
    }
    this.#track(res)
    const follower = (k: string, line: string) => {
      if (k === key) res.write(`${line}\n`)
    }
    this.#logFollowers.add(follower)
    res.on('close', () => this.#logFollowers.delete(follower))
  }

  // ---- storage

  #write(resource: string, namespace: string, input: Obj, op: 'create' | 'update', dry = false): Obj {
    const def = RESOURCES[resource]!
    const obj = structuredClone(input)
    obj.kind = def.kind
    obj.apiVersion = 'v1'
    obj.metadata = { ...(obj.metadata ?? {}) }
    const name = obj.metadata.name
    if (typeof name !== 'string' || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name))
      throw new HttpError(
        422,
        'Invalid',
        `${def.kind} "${name ?? ''}" is invalid: metadata.name: Invalid value`,
        { name, kind: resource },
      )
    if (def.namespaced) obj.metadata.namespace = namespace
    else delete obj.metadata.namespace
    const key = `${resource}/${namespace}/${name}`
    const existing = this.#store.get(key)
    if (op === 'create' && existing)
      throw new HttpError(409, 'AlreadyExists', `${resource} "${name}" already exists`, {
        name,
        kind: resource,
      })
    if (resource === 'secrets') {
      obj.data = { ...(obj.data ?? {}) }
      for (const [k, v] of Object.entries(obj.stringData ?? {}))
        obj.data[k] = Buffer.from(String(v)).toString('base64')
      delete obj.stringData
      obj.type ??= 'Opaque'
    }
    if (resource === 'pods') obj.status ??= { phase: 'Running' }
    if (resource === 'namespaces') obj.status ??= { phase: 'Active' }
    obj.metadata.uid = existing?.metadata.uid ?? randomUUID()
    obj.metadata.creationTimestamp =
      existing?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z')
    if (dry) {
      obj.metadata.resourceVersion = existing?.metadata.resourceVersion ?? ''
      return obj
    }
    obj.metadata.resourceVersion = String(++this.#rv)
    this.#store.set(key, obj)
    this.#emit({
      rv: this.#rv,
      type: existing ? 'MODIFIED' : 'ADDED',
      resource,
      object: structuredClone(obj),
    })
    return structuredClone(obj)
  }

  #put(resource: string, namespace: string, obj: Obj): void {
    this.#write(resource, namespace, obj, 'create')
  }

  #remove(resource: string, namespace: string, name: string): void {
    const key = `${resource}/${namespace}/${name}`
    const o = this.#store.get(key)
    if (!o) return
    this.#store.delete(key)
    const gone = structuredClone(o)
    gone.metadata.resourceVersion = String(++this.#rv)
    this.#emit({ rv: this.#rv, type: 'DELETED', resource, object: gone })
  }

  #emit(e: WatchEvent): void {
    this.#history.push(e)
    for (const w of this.#watchers) w(e)
  }

  // ---- WebSocket: exec, attach, portforward

  #upgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    const url = new URL(req.url!, 'http://x')
    const seen: SeenRequest = {
      method: 'UPGRADE',
      url: req.url!,
      authorization: req.headers.authorization,
      acceptEncoding: req.headers['accept-encoding'] as string | undefined,
      protocol: String(req.headers['sec-websocket-protocol'] ?? ''),
      impersonate: impersonationHeaders(req),
    }
    this.seen.push(seen)
    let path: string
    try {
      path = this.#path(req)
    } catch (err) {
      const e = err as HttpError
      const body = JSON.stringify(statusBody(e))
      socket.end(
        `HTTP/1.1 ${e.code} ${http.STATUS_CODES[e.code]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      )
      return
    }
    Object.assign(seen, { path })
    const refuse = (code: number, reason: string, message: string) => {
      const body = JSON.stringify(statusBody(new HttpError(code, reason, message)))
      socket.end(
        `HTTP/1.1 ${code} ${http.STATUS_CODES[code]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      )
    }
    try {
      this.#authorize(req)
    } catch {
      refuse(401, 'Unauthorized', 'Unauthorized')
      return
    }
    const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/(exec|attach|portforward)$/.exec(path)
    if (!m) {
      refuse(404, 'NotFound', 'the server could not find the requested resource')
      return
    }
    const [, namespace, pod, sub] = m as unknown as [string, string, string, string]
    const p = this.#store.get(`pods/${namespace}/${pod}`)
    if (!p) {
      refuse(404, 'NotFound', `pods "${pod}" not found`)
      return
    }
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim())
    if (!offered.some((o) => (this.#options.channelProtocols ?? CHANNEL_PROTOCOLS).includes(o))) {
      refuse(400, 'BadRequest', 'no supported channel protocol offered')
      return
    }
    const containers: string[] = (p.spec?.containers ?? []).map((c: Obj) => c.name)
    const container = url.searchParams.get('container') || containers[0] || ''
    if (sub !== 'portforward' && !containers.includes(container)) {
      refuse(400, 'BadRequest', `container ${container} is not valid for pod ${pod}`)
      return
    }
    this.#wss.handleUpgrade(req, socket, head, (ws) => {
      Object.assign(seen, { protocol: ws.protocol })
      if (sub === 'exec')
        this.#exec(ws, { namespace, pod, container, command: url.searchParams.getAll('command') }, url)
      else if (sub === 'attach') this.#attach(ws, namespace, pod, container)
      else this.#portforward(ws, url)
    })
  }

  #exec(ws: WebSocket, request: ExecRequest, url: URL): void {
    const wantsStdin = url.searchParams.get('stdin') === 'true'
    let stdin = ''
    let ran = false
    const run = () => {
      if (ran) return
      ran = true
      const result = (this.#options.exec ?? defaultExec)(request, stdin)
      if (result.stdout && url.searchParams.get('stdout') !== 'false') ws.send(frame(1, result.stdout))
      if (result.stderr && url.searchParams.get('stderr') !== 'false') ws.send(frame(2, result.stderr))
      const code = result.exitCode ?? 0
      const status =
        code === 0
          ? { metadata: {}, status: 'Success' }
          : {
              metadata: {},
              status: 'Failure',
              message: `command terminated with non-zero exit code: error executing command [${request.command.join(' ')}], exit code ${code}`,
              reason: 'NonZeroExitCode',
              details: { causes: [{ reason: 'ExitCode', message: String(code) }] },
            }
      ws.send(frame(3, JSON.stringify(status)))
      ws.close(1000)
    }
    if (!wantsStdin) {
      setImmediate(run)
      return
    }
    ws.on('message', (data: Buffer) => {
      const channel = data[0]
      if (channel === 0) stdin += data.subarray(1).toString('utf8')
      // v5: an explicit close of the stdin channel; v4 clients close the socket instead.
      if (channel === 255 && data[1] === 0) run()
    })
    ws.on('close', run)
  }

  #attach(ws: WebSocket, namespace: string, pod: string, container: string): void {
    for (const line of this.#logs.get(`${namespace}/${pod}/${container}`) ?? [])
      ws.send(frame(1, `${line}\n`))
    ws.on('message', (data: Buffer) => {
      if (data[0] === 0) ws.send(frame(1, data.subarray(1).toString('utf8')))
    })
  }

  #portforward(ws: WebSocket, url: URL): void {
    const port = Number(url.searchParams.get('ports'))
    const portBytes = Buffer.alloc(2)
    portBytes.writeUInt16LE(port)
    // Each forwarded port is a channel pair (data, error); the first frame on each carries the port number.
    ws.send(Buffer.concat([Buffer.from([0]), portBytes]))
    ws.send(Buffer.concat([Buffer.from([1]), portBytes]))
    ws.on('message', (data: Buffer) => {
      if (data[0] === 0)
        ws.send(Buffer.concat([Buffer.from([0]), Buffer.from(`echo:${data.subarray(1).toString('utf8')}`)]))
    })
  }
}

const CHANNEL_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io']

function frame(channel: number, text: string): Buffer {
  return Buffer.concat([Buffer.from([channel]), Buffer.from(text, 'utf8')])
}

function defaultExec(request: ExecRequest, stdin: string): ExecResult {
  const [cmd, ...args] = request.command
  switch (cmd) {
    case 'echo':
      return { stdout: `${args.join(' ')}\n` }
    case 'cat':
      if (args.length > 0)
        return { stderr: args.map((a) => `cat: ${a}: No such file or directory\n`).join(''), exitCode: 1 }
      return { stdout: stdin }
    case 'hostname':
      return { stdout: `${request.pod}\n` }
    case 'exit':
      return { exitCode: Number(args[0] ?? 0) }
    default:
      return { stderr: `${cmd}: command not found\n`, exitCode: 127 }
  }
}

function resourceList(): Obj {
  const resources = [
    ...Object.entries(RESOURCES).map(([name, d]) => ({
      name,
      singularName: d.kind.toLowerCase(),
      namespaced: d.namespaced,
      kind: d.kind,
      verbs: d.verbs,
    })),
    ...Object.entries(SUBRESOURCES).map(([name, d]) => ({
      name,
      singularName: '',
      namespaced: true,
      kind: d.kind,
      verbs: d.verbs,
    })),
  ]
  return { kind: 'APIResourceList', groupVersion: 'v1', resources }
}

function matches(
  o: Obj,
  resource: string,
  namespace: string,
  labels: Map<string, string>,
  fields: Map<string, string>,
  name?: string,
): boolean {
  if (RESOURCES[resource]!.namespaced && namespace !== '' && o.metadata.namespace !== namespace) return false
  if (name !== undefined && o.metadata.name !== name) return false
  for (const [k, v] of labels) if (o.metadata.labels?.[k] !== v) return false
  for (const [k, v] of fields) {
    const value = k.split('.').reduce<any>((acc, part) => acc?.[part], o)
    if (String(value) !== v) return false
  }
  return true
}

function parseSelector(s: string | null): Map<string, string> {
  const out = new Map<string, string>()
  if (!s) return out
  for (const term of s.split(',')) {
    const [k, v] = term.split(/==?/)
    if (k === undefined || v === undefined)
      throw new HttpError(400, 'BadRequest', `unable to parse requirement: ${term}`)
    out.set(k.trim(), v.trim())
  }
  return out
}

function mergePatch(target: Obj, patch: Obj): Obj {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete target[k]
    else if (
      typeof v === 'object' &&
      !Array.isArray(v) &&
      typeof target[k] === 'object' &&
      target[k] !== null &&
      !Array.isArray(target[k])
    )
      target[k] = mergePatch(target[k], v)
    else target[k] = v
  }
  return target
}

function parseObject(body: string): Obj {
  try {
    const v = JSON.parse(body)
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v
  } catch {}
  throw new HttpError(400, 'BadRequest', 'the request body is not a JSON object')
}

function notFound(resource: string, name: string): HttpError {
  return new HttpError(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource })
}

function statusBody(e: HttpError): Obj {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: e.message,
    reason: e.reason,
    details: e.details ?? {},
    code: e.code,
  }
}

function sendStatus(res: http.ServerResponse, e: HttpError): void {
  sendJson(res, e.code, statusBody(e))
}

/** Picks the encoding like the API server: Accept entries by q (then order), the first one it can serve. */
function negotiate(accept: string | undefined, override: 'yaml' | 'protobuf' | undefined): Encoding {
  if (override !== undefined) return { type: override }
  if (accept === undefined || accept.trim() === '') return { type: 'json' }
  const entries = accept
    .split(',')
    .map((raw, i) => {
      const [type = '', ...rest] = raw.split(';').map((p) => p.trim())
      const params = new Map(
        rest.map((p) => {
          const [k = '', v = ''] = p.split('=')
          return [k.trim().toLowerCase(), v.trim()] as const
        }),
      )
      return { type: type.toLowerCase(), params, q: Number(params.get('q') ?? 1), i }
    })
    .filter((e) => e.q > 0)
    .sort((a, b) => b.q - a.q || a.i - b.i)
  for (const { type, params } of entries) {
    const as = params.get('as')
    if (type === 'application/json' && as !== undefined) {
      if (params.get('g') !== 'meta.k8s.io' || !['v1', 'v1beta1'].includes(params.get('v') ?? '')) continue
      if (as === 'Table') return { type: 'table' }
      if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') return { type: 'metadata' }
      continue
    }
    if (as !== undefined) continue
    if (type === 'application/json' || type === '*/*' || type === 'application/*') return { type: 'json' }
    if (type === 'application/yaml') return { type: 'yaml' }
    if (type === 'application/vnd.kubernetes.protobuf') return { type: 'protobuf' }
  }
  throw new HttpError(
    406,
    'NotAcceptable',
    `only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf`,
  )
}

/** An object response (single object or list) in the negotiated encoding. */
function sendObject(
  res: http.ServerResponse,
  code: number,
  value: Obj,
  enc: Encoding,
  resource: string,
  url: URL,
): void {
  const items: Obj[] | undefined = Array.isArray(value.items) ? value.items : undefined
  const meta = (o: Obj) => ({
    kind: 'PartialObjectMetadata',
    apiVersion: 'meta.k8s.io/v1',
    metadata: o.metadata,
  })
  let body: Buffer
  let type = 'application/json'
  if (enc.type === 'json') body = Buffer.from(JSON.stringify(value))
  else if (enc.type === 'table')
    body = Buffer.from(JSON.stringify(toTable(resource, items ?? [value], url, true, value)))
  else if (enc.type === 'metadata')
    body = Buffer.from(
      JSON.stringify(
        items
          ? {
              kind: 'PartialObjectMetadataList',
              apiVersion: 'meta.k8s.io/v1',
              metadata: value.metadata,
              items: items.map(meta),
            }
          : meta(value),
      ),
    )
  else if (enc.type === 'yaml') {
    body = Buffer.from(toYaml(value))
    type = 'application/yaml'
  } else {
    body = protobufEnvelope(value)
    type = 'application/vnd.kubernetes.protobuf'
  }
  res.writeHead(code, { 'content-type': type, 'content-length': body.byteLength })
  res.end(body)
}

// ---- Table (meta.k8s.io/v1): the printer columns of the core types, a subset for pods.

const COLUMNS: Record<string, { name: string; type: string; format?: string }[]> = {
  secrets: [
    { name: 'Name', type: 'string', format: 'name' },
    { name: 'Type', type: 'string' },
    { name: 'Data', type: 'string' },
    { name: 'Age', type: 'string' },
  ],
  configmaps: [
    { name: 'Name', type: 'string', format: 'name' },
    { name: 'Data', type: 'string' },
    { name: 'Age', type: 'string' },
  ],
  pods: [
    { name: 'Name', type: 'string', format: 'name' },
    { name: 'Status', type: 'string' },
    { name: 'Age', type: 'string' },
  ],
  namespaces: [
    { name: 'Name', type: 'string', format: 'name' },
    { name: 'Status', type: 'string' },
    { name: 'Age', type: 'string' },
  ],
}

function cells(resource: string, o: Obj): unknown[] {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(o.metadata?.creationTimestamp)) / 1000))
  const age = `${seconds}s`
  const name = o.metadata?.name
  if (resource === 'secrets') return [name, o.type, Object.keys(o.data ?? {}).length, age]
  if (resource === 'configmaps') return [name, Object.keys(o.data ?? {}).length, age]
  return [name, o.status?.phase ?? '', age]
}

function toTable(resource: string, objects: Obj[], url: URL, withColumns: boolean, list?: Obj): Obj {
  const kind = RESOURCES[resource]!.kind
  const include = url.searchParams.get('includeObject') ?? 'Metadata'
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: list?.metadata?.resourceVersion ?? '' },
    columnDefinitions: withColumns
      ? COLUMNS[resource]!.map((c) => ({
          name: c.name,
          type: c.type,
          format: c.format ?? '',
          description: `${kind} ${c.name.toLowerCase()}`,
          priority: 0,
        }))
      : [],
    rows: objects.map((o) => ({
      cells: cells(resource, o),
      ...(include === 'None'
        ? {}
        : include === 'Object'
          ? { object: { kind, apiVersion: 'v1', ...o } }
          : {
              object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
            }),
    })),
  }
}

// ---- YAML (block style; every scalar string double-quoted, which is valid YAML)

function toYaml(value: unknown): string {
  const lines: string[] = []
  const key = (k: string) => (/^[A-Za-z0-9_./-]+$/.test(k) ? k : JSON.stringify(k))
  const scalar = (v: unknown) =>
    typeof v === 'string' ? JSON.stringify(v) : v === null || v === undefined ? 'null' : String(v)
  const nested = (v: unknown) => typeof v === 'object' && v !== null && Object.keys(v).length > 0
  const leaf = (v: unknown) =>
    nested(v) ? '' : Array.isArray(v) ? '[]' : typeof v === 'object' && v !== null ? '{}' : scalar(v)
  const walk = (v: Obj | unknown[], indent: string) => {
    if (Array.isArray(v)) {
      for (const item of v) {
        if (!nested(item)) {
          lines.push(`${indent}- ${leaf(item)}`)
          continue
        }
        const start = lines.length
        walk(item as Obj, `${indent}  `)
        lines[start] = `${indent}- ${lines[start]!.slice(indent.length + 2)}`
      }
      return
    }
    for (const [k, x] of Object.entries(v)) {
      if (!nested(x)) lines.push(`${indent}${key(k)}: ${leaf(x)}`)
      else {
        lines.push(`${indent}${key(k)}:`)
        walk(x as Obj, Array.isArray(x) ? indent : `${indent}  `)
      }
    }
  }
  walk(value as Obj, '')
  return `${lines.join('\n')}\n`
}

// ---- protobuf: `k8s\0` + runtime.Unknown{typeMeta, raw, contentEncoding, contentType}, raw being the
// object's own message (field numbers from k8s.io/api/core/v1/generated.proto).

function pbVarint(n: number): Buffer {
  const out: number[] = []
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Buffer.from(out)
}
function pbBytes(field: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value) : value
  return Buffer.concat([pbVarint((field << 3) | 2), pbVarint(v.byteLength), v])
}
function pbMap(field: number, map: Obj | undefined, value: (v: unknown) => Buffer | string): Buffer {
  return Buffer.concat(
    Object.entries(map ?? {}).map(([k, v]) =>
      pbBytes(field, Buffer.concat([pbBytes(1, k), pbBytes(2, value(v))])),
    ),
  )
}
function pbObjectMeta(m: Obj): Buffer {
  const seconds = Math.floor(Date.parse(m.creationTimestamp ?? '1970-01-01T00:00:00Z') / 1000)
  return Buffer.concat([
    pbBytes(1, String(m.name ?? '')),
    pbBytes(3, String(m.namespace ?? '')),
    pbBytes(5, String(m.uid ?? '')),
    pbBytes(6, String(m.resourceVersion ?? '')),
    pbBytes(8, Buffer.concat([pbVarint(1 << 3), pbVarint(seconds)])),
    pbMap(11, m.labels, String),
    pbMap(12, m.annotations, String),
  ])
}
function protobufEnvelope(o: Obj): Buffer {
  let raw: Buffer
  if (o.kind === 'Secret')
    raw = Buffer.concat([
      pbBytes(1, pbObjectMeta(o.metadata ?? {})),
      pbMap(2, o.data, (v) => Buffer.from(String(v), 'base64')),
      pbBytes(3, String(o.type ?? '')),
    ])
  else if (o.kind === 'ConfigMap')
    raw = Buffer.concat([pbBytes(1, pbObjectMeta(o.metadata ?? {})), pbMap(2, o.data, String)])
  else
    throw new HttpError(
      406,
      'NotAcceptable',
      `the double encodes only Secrets and ConfigMaps as protobuf, not ${o.kind}`,
    )
  return envelope(String(o.apiVersion ?? 'v1'), String(o.kind), raw)
}

function envelope(apiVersion: string, kind: string, raw: Buffer): Buffer {
  const unknown = Buffer.concat([
    pbBytes(1, Buffer.concat([pbBytes(1, apiVersion), pbBytes(2, kind)])),
    pbBytes(2, raw),
    pbBytes(3, ''),
    pbBytes(4, ''),
  ])
  return Buffer.concat([Buffer.from('k8s\0', 'latin1'), unknown])
}

function sendJson(res: http.ServerResponse, code: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * Go's url.PathUnescape as net/http applies it to a request path: every %XX becomes its byte (so %2F is
 * a "/"), "+" stays "+", and a "%" not followed by two hex digits is a 400 Bad Request.
 */
export function goUnescapePath(raw: string): string {
  const bytes: number[] = []
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i)
    if (c === 0x25) {
      const hex = raw.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex))
        throw new HttpError(400, 'BadRequest', `invalid URL escape "${raw.slice(i, i + 3)}"`)
      bytes.push(Number.parseInt(hex, 16))
      i += 2
    } else for (const b of Buffer.from(raw[i]!, 'utf8')) bytes.push(b)
  }
  return Buffer.from(bytes).toString('utf8')
}

function impersonationHeaders(req: http.IncomingMessage): Record<string, string | string[]> | undefined {
  const out: Record<string, string | string[]> = {}
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!.toLowerCase()
    if (!name.startsWith('impersonate-')) continue
    const value = req.rawHeaders[i + 1]!
    const had = out[name]
    out[name] = had === undefined ? value : [...(Array.isArray(had) ? had : [had]), value]
  }
  return Object.keys(out).length > 0 ? out : undefined
}
