import { WardenError } from '@warden/policy'
import { newId } from '../internal/ids.js'
import { Secret } from '../secret.js'
import type { Broker, Credential, Lease, LeaseRequest } from './broker.js'

/** A secret value in config: the value itself, or the name of an environment variable holding it. */
export type SecretSource = string | { readonly env: string }

export type StaticCredential =
  | {
      readonly type: 'password'
      readonly username: string | { readonly env: string }
      readonly password: SecretSource
    }
  | { readonly type: 'token'; readonly token: SecretSource }
  | {
      readonly type: 'ssh'
      readonly username: string
      readonly privateKey: SecretSource
      readonly certificate?: string
      readonly hostKeys?: readonly string[]
    }
  | { readonly type: 'headers'; readonly headers: Readonly<Record<string, SecretSource>> }

export interface StaticBrokerOptions {
  /** Credentials keyed by `kind:name` (e.g. `postgres:orders-dev`); `kind:*` is a fallback for a kind. */
  readonly credentials: Readonly<Record<string, StaticCredential>>
  /** Lifetime of each lease, ms (default 1 hour). Static credentials do not really expire; this paces refresh. */
  readonly ttlMs?: number
  /** Where `{env}` values are read (default process.env). Read once, here, so a missing variable fails at startup. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /**
   * Leave the secret variables in `process.env` after reading them (default false: they are
   * removed, so an unguarded client or a child process cannot log in with them).
   */
  readonly keepEnv?: boolean
}

/**
 * Fixed credentials from config or the environment, for local development and CI. Secrets are
 * read once at construction and wrapped as `Secret`s; a missing variable fails at startup.
 * @example
 * const broker = staticBroker({ credentials: { 'postgres:orders': { type: 'password', username: 'app', password: { env: 'PGPASSWORD' } } } })
 */
export function staticBroker(options: StaticBrokerOptions): Broker {
  const env = options.env ?? process.env
  const ttl = options.ttlMs ?? 3_600_000
  // Secret variables read, removed from process.env once every credential resolved.
  const read = new Set<string>()
  const resolve = (key: string, src: SecretSource | undefined, field: string): Secret => {
    if (typeof src === 'string') return new Secret(src)
    if (src && typeof src === 'object' && typeof src.env === 'string') {
      read.add(src.env)
      const v = env[src.env]
      if (v === undefined || v === '')
        throw new WardenError(
          'ERR_WARDEN_CONFIG',
          `staticBroker: ${key}.${field} reads $${src.env}, which is not set`,
        )
      return new Secret(v)
    }
    throw new WardenError(
      'ERR_WARDEN_CONFIG',
      `staticBroker: ${key}.${field} must be a string or {env: NAME}`,
    )
  }
  // Usernames are not secret, but may come from the environment too.
  const plain = (key: string, src: string | { readonly env: string }, field: string): string => {
    if (typeof src === 'string') return src
    const v = src && typeof src.env === 'string' ? env[src.env] : undefined
    if (v === undefined || v === '')
      throw new WardenError('ERR_WARDEN_CONFIG', `staticBroker: ${key}.${field} reads an unset variable`)
    return v
  }
  const credentials = new Map<string, Credential>()
  for (const [key, c] of Object.entries(options.credentials ?? {})) {
    if (!/^[a-z]+:.+$/.test(key))
      throw new WardenError('ERR_WARDEN_CONFIG', `staticBroker: key "${key}" must be kind:name`)
    let credential: Credential
    switch (c?.type) {
      case 'password':
        credential = Object.freeze({
          type: 'password',
          username: plain(key, c.username, 'username'),
          password: resolve(key, c.password, 'password'),
        })
        break
      case 'token':
        credential = Object.freeze({ type: 'token', token: resolve(key, c.token, 'token') })
        break
      case 'ssh':
        credential = Object.freeze({
          type: 'ssh',
          username: c.username,
          privateKey: resolve(key, c.privateKey, 'privateKey'),
          certificate: c.certificate,
          hostKeys: c.hostKeys,
        })
        break
      case 'headers': {
        const headers: Record<string, Secret> = {}
        for (const [name, v] of Object.entries(c.headers))
          headers[name.toLowerCase()] = resolve(key, v, `headers.${name}`)
        credential = Object.freeze({ type: 'headers', headers: Object.freeze(headers) })
        break
      }
      default:
        throw new WardenError(
          'ERR_WARDEN_CONFIG',
          `staticBroker: ${key}.type must be password, token, ssh or headers`,
        )
    }
    credentials.set(key, credential)
  }
  if (env === process.env && options.keepEnv !== true) for (const name of read) delete process.env[name]
  return {
    async issue(request: LeaseRequest): Promise<Lease> {
      const { kind, name } = request.resource
      const credential = credentials.get(`${kind}:${name}`) ?? credentials.get(`${kind}:*`)
      if (credential === undefined)
        throw new WardenError('ERR_WARDEN_BROKER', `staticBroker has no credential for ${kind}:${name}`)
      return Object.freeze({
        id: `static-${newId()}`,
        credential,
        expiresAt: new Date(Date.now() + ttl),
        renewable: false,
      })
    },
    async revoke(): Promise<void> {},
  }
}
