import { compileBundle, importTrustedKeys, type TrustedKey } from './bundle.js'
import type { Decider, Decision } from './decision.js'
import { PolicyError, WardenTypeError } from './errors.js'
import type { Policy } from './policy.js'
import type { Request, RequestInput } from './request.js'

export interface BundleLoaderOptions {
  /** Where the bundle (JSON text from `createBundle`) is served. */
  url: string | URL
  /** Public keys allowed to sign bundles (several, for rotation). */
  trustedKeys: readonly TrustedKey[]
  /** Poll interval in ms (default 30 000; 0 disables polling, call `refresh()` yourself). */
  intervalMs?: number
  /** Per-download timeout in ms (default 10 000). */
  timeoutMs?: number
  /** Policy in force until the first bundle verifies (default: none, which denies everything). */
  initial?: Policy
  /** Called when a new revision goes into force. */
  onUpdate?: (event: { revision: string; previous: string }) => void
  /** Called when a download, verification or compile fails; the last good policy stays in force. */
  onError?: (error: PolicyError) => void
  /** Transport (test seam). */
  fetch?: typeof globalThis.fetch
  /** Extra request headers (e.g. authorization for the bundle server). */
  headers?: Readonly<Record<string, string>>
}

export type RefreshOutcome = 'updated' | 'unchanged' | 'failed'

export interface BundleLoaderStatus {
  readonly revision: string
  readonly etag: string | undefined
  readonly lastCheckedAt: Date | undefined
  readonly lastUpdatedAt: Date | undefined
  readonly lastError: PolicyError | undefined
}

const NO_POLICY = 'none'

/**
 * A `Decider` backed by a signed bundle at a URL, polled with ETag. A bundle that fails to
 * download, verify or compile leaves the last good policy in force and is reported through
 * `onError` and `status.lastError`; with no good policy yet, every request is denied.
 * Exported from `@warden/policy`. Throws `TypeError` for bad options, `ERR_POLICY_SIGNATURE` for bad keys (from `ready`).
 * @example const policy = bundleLoader({ url: 'https://policy.internal/warden.bundle.json', trustedKeys: [pem] })
 */
export function bundleLoader(options: BundleLoaderOptions): BundleLoader {
  return new BundleLoader(options)
}

export class BundleLoader implements Decider {
  readonly #url: URL
  readonly #fetch: typeof globalThis.fetch
  readonly #timeoutMs: number
  readonly #options: BundleLoaderOptions
  readonly #keys: ReturnType<typeof importTrustedKeys>
  #policy: Policy | undefined
  #etag: string | undefined
  #lastCheckedAt: Date | undefined
  #lastUpdatedAt: Date | undefined
  #lastError: PolicyError | undefined
  #inflight: Promise<RefreshOutcome> | undefined
  #timer: NodeJS.Timeout | undefined
  #closed = false
  /** Resolves after the first refresh attempt (whatever its outcome). */
  readonly ready: Promise<RefreshOutcome>

  constructor(options: BundleLoaderOptions) {
    this.#url = new URL(options.url)
    const interval = options.intervalMs ?? 30_000
    const timeout = options.timeoutMs ?? 10_000
    if (!Number.isInteger(interval) || interval < 0)
      throw new WardenTypeError('bundleLoader: "intervalMs" must be an integer >= 0')
    if (!Number.isInteger(timeout) || timeout <= 0)
      throw new WardenTypeError('bundleLoader: "timeoutMs" must be an integer > 0')
    if (!Array.isArray(options.trustedKeys) || options.trustedKeys.length === 0) {
      throw new WardenTypeError('bundleLoader: "trustedKeys" needs at least one Ed25519 public key')
    }
    this.#fetch = options.fetch ?? globalThis.fetch
    this.#timeoutMs = timeout
    this.#options = options
    this.#policy = options.initial
    this.#keys = importTrustedKeys(options.trustedKeys)
    this.#keys.catch(() => {}) // reported through refresh()
    this.ready = this.refresh()
    if (interval > 0) {
      this.#timer = setInterval(() => void this.refresh(), interval)
      this.#timer.unref()
    }
  }

  /** Content hash of the policy in force (`none` before the first good bundle). */
  get revision(): string {
    return this.#policy?.revision ?? NO_POLICY
  }

  /** The compiled policy in force, if any. */
  get policy(): Policy | undefined {
    return this.#policy
  }

  get status(): BundleLoaderStatus {
    return Object.freeze({
      revision: this.revision,
      etag: this.#etag,
      lastCheckedAt: this.#lastCheckedAt,
      lastUpdatedAt: this.#lastUpdatedAt,
      lastError: this.#lastError,
    })
  }

  decide(request: Request | RequestInput): Decision {
    const policy = this.#policy
    if (policy !== undefined) return policy.decide(request)
    return Object.freeze({
      effect: 'deny',
      rule: 'error:no-policy',
      reason: `no verified policy bundle is in force yet${this.#lastError ? ` (${this.#lastError.code})` : ''}`,
      approval: null,
      masks: Object.freeze([]),
      matched: Object.freeze([]),
      revision: NO_POLICY,
    })
  }

  /** Downloads (with If-None-Match), verifies and compiles now. Never rejects. Single-flight. */
  refresh(): Promise<RefreshOutcome> {
    if (this.#closed) return Promise.resolve('unchanged')
    this.#inflight ??= this.#refresh().finally(() => {
      this.#inflight = undefined
    })
    return this.#inflight
  }

  /** Stops polling. */
  close(): void {
    this.#closed = true
    if (this.#timer) clearInterval(this.#timer)
  }

  async #refresh(): Promise<RefreshOutcome> {
    try {
      const keys = await this.#keys
      const headers: Record<string, string> = { accept: 'application/json', ...this.#options.headers }
      if (this.#etag !== undefined && this.#policy !== undefined) headers['if-none-match'] = this.#etag
      let response: Response
      try {
        response = await this.#fetch(this.#url, { headers, signal: AbortSignal.timeout(this.#timeoutMs) })
      } catch (e) {
        throw new PolicyError(
          'ERR_POLICY_IO',
          `bundle download from ${this.#url.origin}${this.#url.pathname} failed: ${(e as Error).name}`,
          {},
          { cause: e },
        )
      } finally {
        this.#lastCheckedAt = new Date()
      }
      if (response.status === 304) {
        await response.body?.cancel()
        return 'unchanged'
      }
      if (!response.ok) {
        await response.body?.cancel()
        throw new PolicyError(
          'ERR_POLICY_IO',
          `bundle download from ${this.#url.origin}${this.#url.pathname} failed: HTTP ${response.status}`,
        )
      }
      const text = await response.text()
      const policy = await compileBundle(text, keys, {
        source: this.#url.pathname.split('/').pop() || 'bundle',
      })
      const etag = response.headers.get('etag') ?? undefined
      const previous = this.revision
      this.#etag = etag
      this.#lastError = undefined
      if (this.#closed) return 'unchanged'
      if (policy.revision === previous) return 'unchanged'
      this.#policy = policy
      this.#lastUpdatedAt = new Date()
      try {
        this.#options.onUpdate?.({ revision: policy.revision, previous })
      } catch {
        // a throwing listener must not undo a good update
      }
      return 'updated'
    } catch (e) {
      const err =
        e instanceof PolicyError
          ? e
          : new PolicyError(
              'ERR_POLICY_BUNDLE',
              `bundle refresh failed: ${(e as Error)?.message ?? e}`,
              {},
              { cause: e },
            )
      this.#lastError = err
      try {
        this.#options.onError?.(err)
      } catch {
        // a throwing listener must not break the loader
      }
      return 'failed'
    }
  }
}
