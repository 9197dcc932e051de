// sshCaBroker: an embedded SSH certificate authority. Each lease is a fresh ed25519 key pair and an
// OpenSSH user certificate for it, valid for minutes: the in-process counterpart of a secrets
// engine's SSH signer (e.g. Vault's ssh/sign).
//
// The certificate is built in-process (SSH wire encoding, signed through ssh2's key parser) rather
// than by spawning `ssh-keygen -s`: ssh-keygen needs the CA private key in a file, while here the CA
// key never leaves memory (it stays a Secret until it is parsed once, at construction), and no
// process is spawned per lease.
// Format: OpenSSH PROTOCOL.certkeys; sshd verifies it (test/ssh/ssh-ca-broker.test.ts).
import { randomBytes } from 'node:crypto'
import type { Broker, Lease, LeaseRequest } from '@warden/core'
import { revealSecret, Secret } from '@warden/core'
import { type Principal, type ResourceRef, WardenError, WardenTypeError } from '@warden/policy'
import ssh2 from 'ssh2'
import { parsePublicKeyLine, readSshStrings, sshString, sshUint32, sshUint64 } from './internal/ssh-wire.js'

/** Certificate extensions a principal may be granted (all off unless listed; `pty` by default). */
export type SshPermission = 'pty' | 'port-forwarding' | 'agent-forwarding' | 'x11-forwarding' | 'user-rc'

export interface SshCaPrincipal {
  /** Login names the certificate is valid for (its principals). The first one is the default login. */
  readonly logins: readonly string[]
  /** Extensions to grant. Default `['pty']`: no port, agent or X11 forwarding, no ~/.ssh/rc. */
  readonly permit?: readonly SshPermission[]
  /** `force-command` critical option: sshd runs this instead of whatever the client asks. */
  readonly forceCommand?: string
  /** `source-address` critical option: comma-separated CIDR list the certificate may log in from. */
  readonly sourceAddress?: string
}

export interface SshCaBrokerOptions {
  /** The CA private key (OpenSSH or PEM; ed25519 or RSA), as a Secret. */
  readonly caKey: Secret
  /** Who may get a certificate, by principal id; or a function deciding per principal and resource. */
  readonly principals:
    | Readonly<Record<string, SshCaPrincipal>>
    | ((principal: Principal, resource: ResourceRef) => SshCaPrincipal | undefined)
  /** Certificate lifetime: seconds, or `'90s'`, `'5m'`, `'1h'`. Default 5 minutes; at most 24 hours. */
  readonly ttl?: number | string
  /** Pinned host keys (OpenSSH public key lines) handed to the driver, by resource name. */
  readonly hostKeys?: Readonly<Record<string, readonly string[]>>
  /** Clock (test seam). */
  readonly clock?: () => Date
}

const PERMISSIONS = {
  pty: 'permit-pty',
  'port-forwarding': 'permit-port-forwarding',
  'agent-forwarding': 'permit-agent-forwarding',
  'x11-forwarding': 'permit-X11-forwarding',
  'user-rc': 'permit-user-rc',
} as const satisfies Record<SshPermission, string>

const SKEW_SECONDS = 60n
const MAX_TTL_SECONDS = 24 * 3600

/**
 * A Broker that issues `ssh` credentials: a fresh ed25519 key pair and a short-lived OpenSSH user
 * certificate signed by `caKey`, for the principal's configured logins. The lease `scope`, when
 * set, picks the login (it must be one of the principal's). `revoke` is a no-op: a certificate
 * cannot be recalled before it expires (keep `ttl` short).
 * Exported from `@warden/drivers/ssh`. Throws `TypeError` for bad options; `issue` throws
 * `ERR_WARDEN_BROKER` for a principal with no logins or a login it may not use.
 * @example const broker = sshCaBroker({ caKey: new Secret(caPem), principals: { deployer: { logins: ['deploy'] } }, ttl: '5m' })
 */
export function sshCaBroker(options: SshCaBrokerOptions): Broker {
  if (!(options?.caKey instanceof Secret)) throw new WardenTypeError('sshCaBroker: "caKey" must be a Secret')
  const ca = ssh2.utils.parseKey(revealSecret(options.caKey))
  if (ca instanceof Error || Array.isArray(ca) || !ca.isPrivateKey())
    throw new WardenTypeError('sshCaBroker: "caKey" is not a private key ssh2 can parse (OpenSSH or PEM)')
  const caSign = caSigner(ca)
  const caPublic = ca.getPublicSSH()
  const ttl = parseTtl(options.ttl ?? 300)
  const lookup = principalLookup(options.principals)
  const hostKeys = new Map<string, readonly string[]>()
  for (const [name, keys] of Object.entries(options.hostKeys ?? {})) {
    for (const key of keys) parsePublicKeyLine(key) // throws now on a malformed pin
    hostKeys.set(name, Object.freeze([...keys]))
  }
  const clock = options.clock ?? (() => new Date())

  return {
    async issue(request: LeaseRequest): Promise<Lease> {
      const grant = lookup(request.principal, request.resource)
      if (!grant || grant.logins.length === 0)
        throw new WardenError(
          'ERR_WARDEN_BROKER',
          `sshCaBroker: principal ${request.principal.id} has no ssh logins for ${request.resource.kind}:${request.resource.name}`,
        )
      const username = request.scope || grant.logins[0]
      if (!grant.logins.includes(username))
        throw new WardenError(
          'ERR_WARDEN_BROKER',
          `sshCaBroker: principal ${request.principal.id} may not log in as ${username}`,
        )
      const keys = ed25519KeyPair()
      const now = BigInt(Math.floor(clock().getTime() / 1000))
      const validBefore = now + BigInt(ttl)
      const serial = randomBytes(8).readBigUInt64BE()
      const keyId = `warden:${request.principal.id}:${request.resource.kind}:${request.resource.name}:${serial}`
      const certificate = buildCertificate({
        publicKey: keys.public,
        serial,
        keyId,
        principals: grant.logins,
        validAfter: now - SKEW_SECONDS,
        validBefore,
        grant,
        caPublic,
        caSign,
      })
      const pins = hostKeys.get(request.resource.name)
      return {
        id: `ssh-cert-${serial.toString(16)}`,
        credential: {
          type: 'ssh',
          username,
          privateKey: new Secret(keys.private),
          certificate,
          ...(pins ? { hostKeys: pins } : {}),
        },
        expiresAt: new Date(Number(validBefore) * 1000),
        renewable: false,
      }
    },
    async revoke(): Promise<void> {},
  }
}

interface CertificateInput {
  readonly publicKey: string
  readonly serial: bigint
  readonly keyId: string
  readonly principals: readonly string[]
  readonly validAfter: bigint
  readonly validBefore: bigint
  readonly grant: SshCaPrincipal
  readonly caPublic: Buffer
  readonly caSign: (data: Buffer) => Buffer
}

/** An OpenSSH user certificate line (PROTOCOL.certkeys) for `publicKey`. */
export function buildCertificate(input: CertificateInput): string {
  const { type, blob } = parsePublicKeyLine(input.publicKey)
  const [typeField] = readSshStrings(blob, 1)
  const keyFields = blob.subarray(4 + typeField.length) // the key's own fields, copied verbatim
  const certType = `${type}-cert-v01@openssh.com`
  const critical: [string, string][] = []
  if (input.grant.forceCommand !== undefined) critical.push(['force-command', input.grant.forceCommand])
  if (input.grant.sourceAddress !== undefined) critical.push(['source-address', input.grant.sourceAddress])
  const extensions = [...new Set((input.grant.permit ?? ['pty']).map((p) => PERMISSIONS[p]))]
  const body = Buffer.concat([
    sshString(certType),
    sshString(randomBytes(32)), // nonce
    keyFields,
    sshUint64(input.serial),
    sshUint32(1), // SSH_CERT_TYPE_USER
    sshString(input.keyId),
    sshString(Buffer.concat(input.principals.map((p) => sshString(p)))),
    sshUint64(input.validAfter),
    sshUint64(input.validBefore),
    // Options and extensions are sorted by name; an option's data is itself a string.
    sshString(
      Buffer.concat(
        critical
          .sort(([a], [b]) => cmp(a, b))
          .map(([k, v]) => Buffer.concat([sshString(k), sshString(sshString(v))])),
      ),
    ),
    sshString(
      Buffer.concat(extensions.sort(cmp).map((name) => Buffer.concat([sshString(name), sshString('')]))),
    ),
    sshString(''), // reserved
    sshString(input.caPublic),
  ])
  const certificate = Buffer.concat([body, sshString(input.caSign(body))])
  return `${certType} ${certificate.toString('base64')}`
}

/**
 * A fresh ed25519 key pair in OpenSSH format. ssh2 1.17's generateKeyPairSync drops a leading zero
 * byte of the public key (about 1 key in 500 comes out with a 31-byte key its own parser rejects),
 * so each pair is checked and regenerated until it is well formed.
 */
function ed25519KeyPair(): { private: string; public: string } {
  for (let attempt = 0; attempt < 16; attempt++) {
    const keys = ssh2.utils.generateKeyPairSync('ed25519')
    const parsed = ssh2.utils.parseKey(keys.private)
    const [, pk] = readSshStrings(parsePublicKeyLine(keys.public).blob, 2)
    if (!(parsed instanceof Error) && !Array.isArray(parsed) && pk.length === 32) return keys
  }
  throw new WardenError('ERR_WARDEN_BROKER', 'sshCaBroker: could not generate a well-formed ed25519 key')
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

function caSigner(ca: ssh2.ParsedKey): (data: Buffer) => Buffer {
  const [algo, hash] =
    ca.type === 'ssh-ed25519'
      ? ['ssh-ed25519', undefined]
      : ca.type === 'ssh-rsa'
        ? ['rsa-sha2-512', 'sha512']
        : []
  if (!algo)
    throw new WardenTypeError(
      `sshCaBroker: CA keys of type ${ca.type} are not supported (use ed25519 or RSA)`,
    )
  return (data) => {
    const signature = ca.sign(data, hash)
    if (signature instanceof Error)
      throw new WardenError('ERR_WARDEN_BROKER', 'sshCaBroker: signing failed', { cause: signature })
    return Buffer.concat([sshString(algo), sshString(signature)])
  }
}

function parseTtl(ttl: number | string): number {
  let seconds = Number.NaN
  if (typeof ttl === 'number') seconds = ttl
  else if (typeof ttl === 'string') {
    const unit = { s: 1, m: 60, h: 3600 }[ttl.slice(-1)]
    const value = Number(ttl.slice(0, -1))
    if (unit !== undefined && ttl.length > 1 && Number.isFinite(value)) seconds = value * unit
  }
  if (!Number.isInteger(seconds) || seconds <= 0 || seconds > MAX_TTL_SECONDS)
    throw new WardenTypeError(
      `sshCaBroker: "ttl" must be a whole number of seconds (or "90s", "5m", "1h") between 1 s and 24 h`,
    )
  return seconds
}

function principalLookup(
  principals: SshCaBrokerOptions['principals'],
): (principal: Principal, resource: ResourceRef) => SshCaPrincipal | undefined {
  if (typeof principals === 'function') return principals
  if (principals === null || typeof principals !== 'object')
    throw new WardenTypeError(
      'sshCaBroker: "principals" must be an object of {logins} by principal id, or a function',
    )
  for (const [id, grant] of Object.entries(principals)) {
    if (!Array.isArray(grant?.logins) || grant.logins.some((l) => typeof l !== 'string' || l === ''))
      throw new WardenTypeError(`sshCaBroker: principals.${id}.logins must be a list of login names`)
    for (const p of grant.permit ?? [])
      if (!(p in PERMISSIONS))
        throw new WardenTypeError(`sshCaBroker: principals.${id}.permit has unknown ${JSON.stringify(p)}`)
  }
  const table = new Map(Object.entries(principals))
  return (principal) => table.get(principal.id)
}
