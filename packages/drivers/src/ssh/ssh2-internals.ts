// The ssh2 internals this driver relies on, in one place (STYLE §5.5). ssh2 is pinned to exactly
// 1.17.0 and test/ssh/ssh2-internals.test.ts checks each of them against a real OpenSSH sshd.
//
// Why: ssh2 cannot authenticate with an OpenSSH user certificate (mscdex/ssh2#551, open since 2017;
// research drivers.md §3.1). Its Protocol#authPK sends the plain public key and uses one algorithm
// name for both the request and the signature, while OpenSSH wants the certificate blob under
// `<type>-cert-v01@openssh.com` and a signature named with the plain algorithm. We replace authPK
// on one Client instance (never on the prototype) for keys made by certificateKey().
//
// Internals touched (ssh2 1.17.0):
//   client._protocol                              the Protocol instance, set synchronously by connect()
//   protocol.authPK(user, key, keyAlgo, cbSign)   replaced per instance
//   protocol._authsQueue                          pushed 'publickey' so the reply is matched
//   protocol._packetRW.write.{alloc,allocStart,finalize}  packet framing/encryption
//   protocol._kex.sessionID                       the exchange hash signed during userauth
//   ssh2/lib/protocol/utils.js sendPacket, convertSignature
//   parsed keys: private symbol fields kept through the prototype chain (Object.create)
import { createRequire } from 'node:module'
import { WardenError } from '@warden/policy'
import ssh2 from 'ssh2'
import { parsePublicKeyLine, sshString } from './internal/ssh-wire.js'

export const SSH2_VERSION = '1.17.0'

const require = createRequire(import.meta.url)

interface ProtocolUtils {
  sendPacket(protocol: unknown, packet: Buffer): void
  convertSignature(signature: Buffer, keyType: string): Buffer | false
}

interface ProtocolInternals {
  authPK(user: string, key: unknown, keyAlgo?: unknown, cbSign?: unknown): void
  _authsQueue: string[]
  _packetRW: {
    write: { alloc(length: number): Buffer; allocStart: number; finalize(packet: Buffer): Buffer }
  }
  _kex: { sessionID: Buffer }
}

type ParsedKey = ssh2.ParsedKey

let checked: ProtocolUtils | undefined

/** Loads the internals and checks the installed ssh2 is the version they were verified on. */
export function ssh2Internals(): ProtocolUtils {
  if (checked) return checked
  const version = (require('ssh2/package.json') as { version: string }).version
  const utils = require('ssh2/lib/protocol/utils.js') as Partial<ProtocolUtils>
  if (
    version !== SSH2_VERSION ||
    typeof utils.sendPacket !== 'function' ||
    typeof utils.convertSignature !== 'function'
  )
    throw new WardenError(
      'ERR_WARDEN_UNSUPPORTED',
      `@warden/drivers/ssh needs ssh2 ${SSH2_VERSION} exactly (found ${version}); certificate login uses its internals`,
    )
  checked = utils as ProtocolUtils
  return checked
}

const CERT = Symbol('warden.sshCertificate')

interface CertInfo {
  /** Algorithm named in the userauth request (the certificate's). */
  readonly requestAlgo: string
  /** Algorithm named inside the signature blob (the plain key's). */
  readonly signatureAlgo: string
  /** Hash for RSA keys. */
  readonly hash?: 'sha256' | 'sha512'
}

const CERT_ALGOS: Readonly<Record<string, CertInfo>> = {
  'ssh-ed25519-cert-v01@openssh.com': {
    requestAlgo: 'ssh-ed25519-cert-v01@openssh.com',
    signatureAlgo: 'ssh-ed25519',
  },
  'ssh-rsa-cert-v01@openssh.com': {
    requestAlgo: 'rsa-sha2-256-cert-v01@openssh.com',
    signatureAlgo: 'rsa-sha2-256',
    hash: 'sha256',
  },
}

/**
 * A parsed private key that presents `certificate` (an OpenSSH user certificate line) when it
 * authenticates on a client prepared with enableCertificateAuth(). Supports ed25519 and RSA keys.
 */
export function certificateKey(privateKey: string, certificate: string): ParsedKey {
  ssh2Internals()
  const parsed = ssh2.utils.parseKey(privateKey)
  if (parsed instanceof Error || Array.isArray(parsed))
    throw new WardenError('ERR_WARDEN_BROKER', 'the broker issued an ssh private key that does not parse')
  const { type, blob } = parsePublicKeyLine(certificate)
  const info = CERT_ALGOS[type]
  if (!info)
    throw new WardenError('ERR_WARDEN_UNSUPPORTED', `ssh certificates of type ${type} are not supported`)
  if (`${parsed.type}-cert-v01@openssh.com` !== type)
    throw new WardenError(
      'ERR_WARDEN_BROKER',
      `the broker issued a ${type} certificate for a ${parsed.type} key`,
    )
  // Object.create keeps ssh2's private symbol fields (isParsedKey accepts it) through the prototype.
  return Object.create(parsed, {
    type: { value: info.requestAlgo },
    getPublicSSH: { value: () => blob },
    sign: { value: (data: Buffer, algo?: string) => parsed.sign(data, info.hash ?? algo) },
    [CERT]: { value: info },
  }) as ParsedKey
}

/** Replaces authPK on this client's Protocol instance. Call synchronously right after connect(). */
export function enableCertificateAuth(client: ssh2.Client): void {
  const { sendPacket, convertSignature } = ssh2Internals()
  const protocol = (client as unknown as { _protocol?: ProtocolInternals })._protocol
  if (
    !protocol ||
    typeof protocol.authPK !== 'function' ||
    !Array.isArray(protocol._authsQueue) ||
    !protocol._packetRW
  )
    throw new WardenError(
      'ERR_WARDEN_UNSUPPORTED',
      `ssh2 ${SSH2_VERSION} internals (Client#_protocol) not found`,
    )
  const original = protocol.authPK.bind(protocol)
  const send = (payload: Buffer) => {
    const writer = protocol._packetRW.write
    const packet = writer.alloc(payload.length)
    payload.copy(packet, writer.allocStart)
    sendPacket(protocol, writer.finalize(packet))
  }
  protocol.authPK = (user: string, key: unknown, keyAlgo?: unknown, cbSign?: unknown) => {
    const info = (key as { [CERT]?: CertInfo } | null)?.[CERT]
    if (!info) return original(user, key, keyAlgo, cbSign)
    const sign = (typeof keyAlgo === 'function' ? keyAlgo : cbSign) as
      | ((data: Buffer, done: (signature: Buffer) => void) => void)
      | undefined
    const blob = (key as ParsedKey).getPublicSSH()
    const body = (signed: boolean) =>
      Buffer.concat([
        Buffer.from([50]), // SSH_MSG_USERAUTH_REQUEST
        sshString(user),
        sshString('ssh-connection'),
        sshString('publickey'),
        Buffer.from([signed ? 1 : 0]),
        sshString(info.requestAlgo),
        sshString(blob),
      ])
    if (!sign) {
      protocol._authsQueue.push('publickey')
      return send(body(false))
    }
    sign(Buffer.concat([sshString(protocol._kex.sessionID), body(true)]), (raw) => {
      const signature = convertSignature(raw, info.signatureAlgo)
      if (signature === false) throw new Error('ssh: could not convert the certificate signature')
      protocol._authsQueue.push('publickey')
      send(
        Buffer.concat([
          body(true),
          sshString(Buffer.concat([sshString(info.signatureAlgo), sshString(signature)])),
        ]),
      )
    })
  }
}

// Channel internals (ssh2 1.17.0 lib/Channel.js):
//   channel.push(chunk) / channel.stderr.push(chunk)  where CHANNEL_DATA / EXTENDED_DATA arrive
//   channel._write(data, encoding, cb)                  every byte the application sends
//   channel.outgoing.state                              'open' until EOF/close; _write drops data
//                                                       (and never calls back) when it is not open
//   channel.incoming.state                              'closed' once CHANNEL_CLOSE arrived (set
//                                                       before the push(null) it then makes)

type Push = (chunk: Buffer | null) => boolean

interface ChannelInternals {
  push: Push
  stderr: { push: Push }
  _write(data: Buffer, encoding: BufferEncoding, cb: (error?: Error | null) => void): void
  outgoing?: { state?: string }
  incoming?: { state?: string }
}

/**
 * Whether the server has closed the channel (CHANNEL_CLOSE): ssh2 emits 'close' only after the
 * application saw 'end', so a driver holding the end tells the close from an EOF by this.
 */
export function channelClosed(channel: unknown): boolean {
  return (channel as ChannelInternals)?.incoming?.state === 'closed'
}

/**
 * Routes a channel's incoming stdout/stderr through `transform` before any reader sees it.
 * `transform(chunk, stream, push)` must eventually push (possibly transformed) data with `push`;
 * a null chunk is end of stream. Returns raw pushers (to inject text that did not come from the server).
 */
export function hookChannelOutput(
  channel: unknown,
  transform: (chunk: Buffer | null, stream: 'stdout' | 'stderr', push: Push) => void,
): { stdout: Push; stderr: Push } {
  const ch = channel as ChannelInternals
  if (typeof ch?.push !== 'function' || typeof ch.stderr?.push !== 'function')
    throw new WardenError('ERR_WARDEN_UNSUPPORTED', `ssh2 ${SSH2_VERSION} internals (Channel#push) not found`)
  const stdout = ch.push.bind(ch)
  const stderr = ch.stderr.push.bind(ch.stderr)
  ch.push = (chunk) => {
    transform(chunk, 'stdout', stdout)
    return true
  }
  ch.stderr.push = (chunk) => {
    transform(chunk, 'stderr', stderr)
    return true
  }
  return { stdout, stderr }
}

/**
 * Routes everything the application writes to a channel through `gate`, which sends (parts of) it
 * with `send` when it decides to. Writes stay ordered: the stream waits for each gate call.
 */
export function hookChannelInput(
  channel: unknown,
  gate: (chunk: Buffer, send: (data: Buffer | string) => Promise<void>) => Promise<void>,
): void {
  const ch = channel as ChannelInternals
  if (typeof ch?._write !== 'function' || typeof ch.outgoing !== 'object')
    throw new WardenError(
      'ERR_WARDEN_UNSUPPORTED',
      `ssh2 ${SSH2_VERSION} internals (Channel#_write) not found`,
    )
  const write = ch._write.bind(ch)
  const send = (data: Buffer | string): Promise<void> =>
    new Promise((resolve, reject) => {
      if (ch.outgoing?.state !== 'open') return resolve() // closed: ssh2 would drop it and never call back
      write(typeof data === 'string' ? Buffer.from(data) : data, 'buffer' as BufferEncoding, (error) =>
        error ? reject(error) : resolve(),
      )
    })
  ch._write = (data, _encoding, cb) => {
    gate(data, send).then(() => cb(), cb)
  }
}
