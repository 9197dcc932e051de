// The one path every guarded Kubernetes request takes: describe → session.execute (decide, approve, lease,
// audit) → the real request with the broker's bearer token, to the cluster's own origin only → mask.
import type { Command, CommandStream, ExecuteContext, Masker, Session, SessionSource } from '@warden/core'
import { type KubeFacts, WardenDeniedError, WardenError } from '@warden/policy'
import type { Dispatcher } from 'undici'
import { linkSignals } from '../../fetch/internal/link-signals.js'
import { echoNeedles, textScrubber } from '../../internal/credential-echo.js'
import { readCapped } from '../../internal/read-capped.js'
import { describeKube, impersonates, WRITE_VERBS } from '../describe-kube.js'
import { bearer, dryRunPreview } from './dry-run-preview.js'
import { acceptRefusal, isJsonMediaType, responseNeed, responseRefusal } from './encoding.js'
import { type KubeMaskContext, maskKubeValue } from './mask-kube.js'

const METHOD_VERB: Readonly<Record<string, string>> = {
  GET: 'get',
  HEAD: 'get',
  POST: 'create',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
}
const METHODS = new Set(Object.keys(METHOD_VERB))

export interface TransportOptions {
  readonly source: SessionSource
  readonly resource: Command['resource']
  readonly scope: string | undefined
  /** The cluster server URL as configured (may carry a path prefix). */
  readonly server: string
  readonly dispatcher: Dispatcher
  readonly maxBufferBytes: number
}

export interface GuardedResponse {
  readonly status: number
  readonly headers: Record<string, string>
  /** Masked body text. */
  readonly text: string
}

export interface OpenStream {
  readonly response: Response
  readonly mask: KubeMaskContext
  readonly masker: Masker | null
  /** When the credential this stream was opened with expires: long-lived streams end there. */
  readonly expiresAt: Date | undefined
  /**
   * The command ends with this stream (core's context.stream()): the caller reports its end (or
   * late error, or cancel) and releases the end of the stream only once that promise resolves.
   */
  readonly command: CommandStream
}

/** Calls `onExpiry` when `expiresAt` passes (never keeps the process alive); returns a cancel function. */
export function atExpiry(expiresAt: Date | undefined, onExpiry: () => void): () => void {
  if (expiresAt === undefined) return () => {}
  const timer = setTimeout(onExpiry, Math.max(0, expiresAt.getTime() - Date.now()))
  timer.unref()
  return () => clearTimeout(timer)
}

export class KubeTransport {
  readonly origin: string
  readonly server: string
  readonly #o: TransportOptions
  readonly #basePath: string

  constructor(options: TransportOptions) {
    this.#o = options
    this.server = options.server.replace(/\/+$/, '')
    this.origin = new URL(options.server).origin
    this.#basePath = new URL(this.server).pathname.replace(/\/+$/, '')
  }

  /** Refuses any URL outside the configured cluster before anything (a token, a policy call) happens. */
  assertOrigin(url: URL): void {
    if (url.origin !== this.origin)
      throw new WardenError(
        'ERR_WARDEN_CONFIG',
        `refusing a Kubernetes request to ${url.origin}: this KubeConfig only talks to ${this.origin} (a per-call baseServer cannot redirect it)`,
      )
  }

  /**
   * Describes the request (facts from the path under the cluster's base path). A path the API server
   * would read differently, or impersonation no rule allows, is refused here, audited: the first as
   * `warden:kube-path`, the second by the `kube.impersonate` decision.
   */
  async describe(
    method: string,
    url: URL,
    headers?: Headers,
  ): Promise<{ command: Command; facts: KubeFacts }> {
    const m = method.toUpperCase()
    if (!METHODS.has(m))
      throw new WardenError('ERR_WARDEN_UNSUPPORTED', `HTTP method ${m} is not a Kubernetes API verb`)
    const text = `${m} ${url.pathname}${url.search}`
    let facts: KubeFacts
    try {
      facts = describeKube(m, url, { basePath: this.#basePath, headers })
    } catch (error) {
      if (!(error instanceof WardenError) || error.code !== 'ERR_WARDEN_DESCRIBE') throw error
      // Recorded as a refusal of what was asked (no facts: none can be trusted), never sent.
      // Decided by core's built-in rule before policy: denied and audited whatever policy says.
      const refused: Command = {
        resource: this.#o.resource,
        action: `kube.${METHOD_VERB[m]}` as Command['action'],
        text,
        refusal: { rule: 'warden:kube-path', reason: error.message },
      }
      return this.#o.source.current().execute(refused, () => {
        throw new WardenDeniedError('warden:kube-path', error.message)
      })
    }
    const command: Command = {
      resource: this.#o.resource,
      action: `kube.${facts.verb}` as Command['action'],
      text,
      kube: facts,
    }
    if (impersonates(facts)) this.#allowImpersonation(command, facts)
    return { command, facts }
  }

  /**
   * Acting as another user is its own decision (action `kube.impersonate`, the request's facts with verb
   * `impersonate`), recorded, and only an `allow` lets the request go on to its own decision: a rule
   * written for reads (`kube.verb == "get"`) never lets `Impersonate-User: system:admin` through.
   */
  #allowImpersonation(command: Command, facts: KubeFacts): void {
    const check: Command = {
      ...command,
      action: 'kube.impersonate',
      text: `impersonate ${facts.impersonate?.user ?? ''} for ${command.text}`,
      kube: Object.freeze({ ...facts, verb: 'impersonate' }),
    }
    const decision = this.#o.source.current().check(check, { audit: true })
    if (decision.effect === 'allow') return
    throw new WardenDeniedError(
      decision.effect === 'deny' && decision.rule !== '' ? decision.rule : 'warden:impersonate',
      `Impersonate-* headers need a rule that allows action "kube.impersonate"${decision.effect === 'approve' ? ' (approval is not available for impersonation)' : ''}${decision.reason ? `: ${decision.reason}` : ''}`,
    )
  }

  get #leaseOption() {
    return this.#o.scope ? { lease: { scope: this.#o.scope } } : { lease: true }
  }

  /** A buffered REST request (generated API clients, KubernetesObjectApi): JSON bodies masked whole. */
  async rest(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: unknown,
    signal?: AbortSignal,
  ): Promise<GuardedResponse> {
    this.assertOrigin(url)
    // One Headers for the check and the send: `Accept` and `accept` set by different middleware collapse
    // here exactly as they will on the wire.
    const h = new Headers()
    for (const [k, v] of Object.entries(headers)) h.set(k, v)
    const { command: base, facts } = await this.describe(method, url, h)
    const session = this.#o.source.current()
    const command: Command = WRITE_VERBS.has(facts.verb)
      ? {
          ...base,
          preview: async () =>
            dryRunPreview(
              { lease: await session.lease(this.#o.resource, this.#o.scope), ...this.#o },
              { method, url, headers: h, body, facts },
            ),
        }
      : base
    return session.execute(
      command,
      async (context) => {
        // Secrets (and key-path masks) are masked only in JSON. A caller asking for YAML, protobuf or CBOR
        // (setHeaderOptions('Accept', ...), per-call middleware) is refused rather than silently switched to
        // JSON: the generated clients decode JSON only anyway, so rewriting would only surprise callers
        // reading the raw body, and an explicit refusal says what to change. Checked before sending, so a
        // write is never performed only to have its response refused.
        const need = responseNeed(facts, context.masker !== null)
        const asked = acceptRefusal(need, h.get('accept'))
        if (asked !== undefined)
          throw new WardenError(
            'ERR_WARDEN_MASKING',
            `refusing ${method.toUpperCase()} ${url.pathname}: ${asked}; ask for application/json`,
          )
        const res = await this.#send(method, url, h, body, context, signal)
        // Something answering through the API server (a proxy subresource, an aggregated API) may echo
        // the bearer token: it never reaches the caller, in the body or a header.
        const authorization = bearer(context.lease?.credential)
        const scrub =
          textScrubber(echoNeedles([authorization, authorization.replace(/^Bearer /, '')])) ?? ((t) => t)
        const text = scrub(await readCapped(res, this.#o.maxBufferBytes, 'a Kubernetes response'))
        const out: Record<string, string> = {}
        res.headers.forEach((v, k) => {
          out[k] = scrub(v)
        })
        delete out['content-length']
        delete out['content-encoding']
        // The server may still answer another encoding (a wildcard Accept, something in between): refuse
        // it too, never pass it through.
        const answered = text === '' ? undefined : responseRefusal(need, out['content-type'], res.status)
        if (answered !== undefined)
          throw new WardenError(
            'ERR_WARDEN_MASKING',
            `refusing the response to ${method.toUpperCase()} ${url.pathname}: ${answered}`,
          )
        return {
          status: res.status,
          headers: out,
          text: this.#maskBody(text, out['content-type'], facts, session, context),
        }
      },
      this.#leaseOption,
    )
  }

  /**
   * A streaming GET (watch, pod logs): the pipeline decides and records the command when the
   * response starts; the command ends when the caller reports the stream's end (`command`).
   */
  async stream(url: URL, signal: AbortSignal): Promise<OpenStream> {
    this.assertOrigin(url)
    const { command, facts } = await this.describe('GET', url)
    const session = this.#o.source.current()
    return session.execute(
      command,
      async (context) => {
        const response = await this.#send(
          'GET',
          url,
          new Headers({ accept: 'application/json, */*' }),
          undefined,
          context,
          signal,
        )
        return {
          response,
          mask: this.#maskContext(facts, session, context.masker),
          masker: context.masker,
          expiresAt: context.lease?.expiresAt,
          command: context.stream(),
        }
      },
      this.#leaseOption,
    )
  }

  /** Runs `connect` (a WebSocket dial) inside the pipeline with the bearer token for the cluster. */
  async websocket<T>(
    path: string,
    connect: (authorization: string, context: ExecuteContext) => Promise<T>,
  ): Promise<T> {
    const url = new URL(this.server + path)
    this.assertOrigin(url)
    const { command } = await this.describe('GET', url)
    return this.#o.source
      .current()
      .execute(command, (context) => connect(bearer(context.lease?.credential), context), this.#leaseOption)
  }

  async #send(
    method: string,
    url: URL,
    headers: Headers,
    body: unknown,
    context: ExecuteContext,
    signal?: AbortSignal,
  ): Promise<Response> {
    const h = new Headers(headers)
    h.set('authorization', bearer(context.lease?.credential))
    // Masking reads the decoded body; ask for identity so nothing is decoded above us.
    h.set('accept-encoding', 'identity')
    const link = linkSignals(signal, context.signal)
    const init = {
      method,
      headers: h,
      body: body === undefined || body === null ? undefined : (body as string),
      redirect: 'manual',
      signal: link.signal,
      dispatcher: this.#o.dispatcher,
    }
    let res: Response
    try {
      res = await fetch(url, init as unknown as RequestInit)
    } finally {
      link.release()
    }
    // The API server does not redirect; a redirect could carry our token elsewhere on a retry, so refuse it.
    if (res.status >= 300 && res.status < 400) {
      await res.body?.cancel().catch(() => {})
      throw new WardenError(
        'ERR_WARDEN_CONFIG',
        `the Kubernetes API answered a redirect (${res.status}); refusing to follow it`,
      )
    }
    return res
  }

  #maskContext(facts: KubeFacts, session: Session, masker: Masker | null): KubeMaskContext {
    const secretsRequest = facts.group === '' && facts.resource === 'secrets' && facts.subresource === ''
    const cache = new Map<string, boolean>()
    return {
      secretsRequest,
      masker,
      reveal: (namespace, name) => {
        const key = `${namespace}/${name}`
        let allowed = cache.get(key)
        if (allowed === undefined) {
          allowed = session.check(this.#revealCommand(namespace, name), { audit: true }).effect === 'allow'
          cache.set(key, allowed)
        }
        return allowed
      },
    }
  }

  /** Revealing Secret values is its own decision: action `kube.reveal` on `secrets/<namespace>/<name>`. */
  #revealCommand(namespace: string, name: string): Command {
    return {
      resource: this.#o.resource,
      action: 'kube.reveal',
      text: `reveal secrets ${namespace}/${name}`,
      kube: Object.freeze({
        verb: 'reveal',
        group: '',
        version: 'v1',
        resource: 'secrets',
        subresource: '',
        namespace,
        name,
        command: Object.freeze([]),
        container: '',
      }),
    }
  }

  #maskBody(
    text: string,
    contentType: string | undefined,
    facts: KubeFacts,
    session: Session,
    context: ExecuteContext,
  ): string {
    if (text === '') return text
    const mask = this.#maskContext(facts, session, context.masker)
    // Only reached for non-JSON the request may carry (responseRefusal): logs, discovery, proxied pages.
    if (!isJsonMediaType(contentType)) return context.masker ? context.masker.text(text) : text
    // A watch answers newline-delimited events, each masked on its own (Table events included).
    if (facts.verb === 'watch')
      return text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => `${JSON.stringify(maskKubeValue(parseJson(line), mask))}\n`)
        .join('')
    const value = parseJson(text)
    const v = value as { items?: unknown[]; kind?: unknown; rows?: unknown[] }
    if (Array.isArray(v?.items)) context.rows(v.items.length)
    else if (v?.kind === 'Table' && Array.isArray(v.rows)) context.rows(v.rows.length)
    return JSON.stringify(maskKubeValue(value, mask))
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    // Claims JSON but is not: never hand out what we could not inspect for Secrets.
    throw new WardenError(
      'ERR_WARDEN_MASKING',
      'the Kubernetes API returned a JSON content type with a body that does not parse',
    )
  }
}
