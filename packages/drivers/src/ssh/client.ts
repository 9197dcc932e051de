// The guarded ssh2 Client: same API, credentials from the broker, and every channel decided first.
import os from 'node:os'
import path from 'node:path'
import type {
  Command,
  ConnectionGrant,
  Credential,
  ExecuteContext,
  ExecuteOptions,
  Session,
  SessionSource,
} from '@warden/core'
import { revealSecret } from '@warden/core'
import { type ShellFacts, WardenError, WardenTypeError } from '@warden/policy'
import ssh2 from 'ssh2'
import { describeShell } from './describe-shell.js'
import { AsciicastRecorder } from './internal/asciicast-recorder.js'
import { OutputFilter } from './internal/output-filter.js'
import { guardSftp, type SftpGate } from './internal/sftp-guard.js'
import { FULL_SCREEN_PROGRAMS, ShellGate } from './internal/shell-gate.js'
import { parsePublicKeyLine } from './internal/ssh-wire.js'
import {
  certificateKey,
  channelClosed,
  enableCertificateAuth,
  hookChannelInput,
  hookChannelOutput,
} from './ssh2-internals.js'

/** Any node-style callback, called with just the error. */
// biome-ignore lint/complexity/noBannedTypes: ssh2's callback types differ; each is called with (error) only
const failWith = (callback: Function) => (error: Error) => (callback as (error: Error) => void)(error)

/** Options ssh2 takes that would carry a credential or bypass host-key pinning: refused here. */
const FORBIDDEN = [
  'password',
  'privateKey',
  'passphrase',
  'agent',
  'agentForward',
  'authHandler',
  'hostVerifier',
  'hostHash',
  'localHostname',
  'localUsername',
  'tryKeyboard',
  'sock',
] as const

export interface ConnectConfig extends Omit<ssh2.ConnectConfig, (typeof FORBIDDEN)[number] | 'username'> {
  /** The resource name policies match on (`ssh:<resource>`); the broker issues its credential. */
  readonly resource: string
  readonly labels?: Readonly<Record<string, string>>
  /** Login to ask the broker for (the lease scope). Default: the broker's choice. */
  readonly username?: string
  /** Pinned host keys (OpenSSH public key lines), in addition to those the broker returns. */
  readonly hostKeys?: readonly string[]
  /** Directory for asciicast recordings of exec and shell channels, or false for none. Default `$TMPDIR/warden-recordings`. */
  readonly recordings?: string | false
  /**
   * In `shell`, programs whose keys pass ungated while they hold the alternate screen, when a line
   * running only them was allowed. Default: vim vi view nvim nano less more most man top htop watch.
   */
  readonly fullScreenPrograms?: readonly string[]
}

const EMPTY_SHELL: ShellFacts = Object.freeze({
  text: '',
  commands: Object.freeze([]),
  programs: Object.freeze([]),
  flags: Object.freeze([]),
  parsed: true,
  error: '',
})

let recordingSeq = 0

/**
 * An `ssh2` Client whose every channel is described, decided and audited under a Warden session.
 * `connect(config)` takes `resource` instead of credentials (they come from the broker: a key and a
 * short-lived OpenSSH certificate, or a key) and refuses hosts whose key is not pinned. `exec` is
 * decided before the channel opens; in `shell`, each entered line is decided before Enter reaches
 * the server; each SFTP operation and each port forward is decided. Output is masked line by line
 * when the decision carries masks, and exec/shell channels are recorded as asciicast v2 files.
 * Exported from `@warden/drivers/ssh`. Errors: `ERR_WARDEN_DENIED`, `ERR_WARDEN_CONFIG`,
 * `ERR_WARDEN_BROKER`, `ERR_WARDEN_UNSUPPORTED`, `ERR_WARDEN_NO_SESSION`.
 * @example
 * const ssh = new Client(warden)
 * ssh.on('ready', () => ssh.exec('uptime', (err, ch) => ch.pipe(process.stdout)))
 * ssh.connect({ host: 'web-1.internal', resource: 'web-1' })
 */
export class Client extends ssh2.Client {
  readonly #source: SessionSource
  #resource: Command['resource'] | undefined
  #recordings: string | false = path.join(os.tmpdir(), 'warden-recordings')
  #fullScreenPrograms: readonly string[] = FULL_SCREEN_PROGRAMS
  #leaseTimer: NodeJS.Timeout | undefined
  /** The lease of the current connection, bound to the principal that connected: passed on every command. */
  #grant: ConnectionGrant | undefined
  /** The connection closed (ssh2 emits the client's 'close' before it closes its channels). */
  #disconnected = false

  constructor(source: SessionSource) {
    super()
    if (typeof source?.current !== 'function')
      throw new WardenTypeError(
        'Client: the first argument must be a Warden session or the Warden (something with current())',
      )
    this.#source = source
    this.once('close', () => {
      this.#disconnected = true
      clearTimeout(this.#leaseTimer)
    })
  }

  override connect(config: ConnectConfig): this {
    if (config === null || typeof config !== 'object')
      throw new WardenTypeError('Client.connect: config is required')
    for (const key of FORBIDDEN) {
      if ((config as unknown as Record<string, unknown>)[key] !== undefined)
        throw new WardenError(
          'ERR_WARDEN_CONFIG',
          `Client.connect: "${key}" is not accepted; credentials come from the broker and host keys are pinned with "hostKeys"`,
        )
    }
    if (typeof config.resource !== 'string' || config.resource === '')
      throw new WardenTypeError('Client.connect: "resource" (the name policies match on) is required')
    const session = this.#source.current() // synchronous: the ambient session of the caller
    const { resource, labels, username, hostKeys, recordings, fullScreenPrograms, ...rest } = config
    if (fullScreenPrograms !== undefined) {
      if (!Array.isArray(fullScreenPrograms) || !fullScreenPrograms.every((p) => typeof p === 'string'))
        throw new WardenTypeError('Client.connect: "fullScreenPrograms" must be an array of program names')
      this.#fullScreenPrograms = Object.freeze([...fullScreenPrograms])
    }
    this.#resource = Object.freeze({
      kind: 'ssh' as const,
      name: resource,
      ...(labels ? { labels: Object.freeze({ ...labels }) } : {}),
    })
    if (recordings !== undefined) this.#recordings = recordings
    const pins = (hostKeys ?? []).map((k) => parsePublicKeyLine(k).blob) // throws now on a malformed pin
    this.#grant = undefined // a new connection: no channel runs on the previous one's grant
    // The connection belongs to this session's principal: core refuses anyone else's commands on it.
    session
      .connect(this.#resource, { scope: username ?? '', credentialType: 'ssh' })
      .then((grant) => this.#dial(rest, grant, pins))
      .catch((error: unknown) => this.emit('error', asError(error)))
    return this
  }

  #dial(
    rest: Omit<
      ConnectConfig,
      'resource' | 'labels' | 'username' | 'hostKeys' | 'recordings' | 'fullScreenPrograms'
    >,
    grant: ConnectionGrant,
    pins: Buffer[],
  ): void {
    const lease = grant.lease
    // session.connect checked the credential type.
    const credential = lease.credential as Extract<Credential, { type: 'ssh' }>
    const trusted = [...pins, ...(credential.hostKeys ?? []).map((k) => parsePublicKeyLine(k).blob)]
    if (trusted.length === 0)
      throw new WardenError(
        'ERR_WARDEN_CONFIG',
        `no pinned host key for ssh:${this.#resource!.name}: pass "hostKeys" to connect() or have the broker return them (no trust on first use)`,
      )
    const username = credential.username
    const { privateKey, certificate } = credential
    let offered = false
    // The key is revealed and parsed only inside authHandler: it never sits on client.config.
    const authHandler = (_methods: unknown, _partial: unknown, next: (auth: unknown) => void) => {
      if (offered) return next(false)
      offered = true
      const secret = revealSecret(privateKey)
      const key = certificate ? certificateKey(secret, certificate) : ssh2.utils.parseKey(secret)
      if (key instanceof Error) return next(false)
      next({ type: 'publickey', username, key })
    }
    const hostVerifier = (key: Buffer) => trusted.some((pin) => pin.equals(key))
    this.#grant = grant
    super.connect({ ...rest, username, authHandler: authHandler as never, hostVerifier })
    if (certificate) enableCertificateAuth(this)
    // sshd checks a certificate only at login: end the connection when its lease ends.
    const ms = lease.expiresAt.getTime() - Date.now()
    this.#leaseTimer = setTimeout(() => this.end(), Math.max(0, Math.min(ms, 2 ** 31 - 1)))
    this.#leaseTimer.unref()
  }

  override exec(command: string, options: ssh2.ExecOptions, callback: ssh2.ClientCallback): this
  override exec(command: string, callback: ssh2.ClientCallback): this
  override exec(command: string, a: ssh2.ExecOptions | ssh2.ClientCallback, b?: ssh2.ClientCallback): this {
    const [options, callback] = typeof a === 'function' ? [{} as ssh2.ExecOptions, a] : [a ?? {}, b]
    if (typeof callback !== 'function') throw new WardenTypeError('Client.exec: a callback is required')
    if (typeof command !== 'string') throw new WardenTypeError('Client.exec: "command" must be a string')
    this.#guard(failWith(callback), async (session) => {
      refuseForwarding(options)
      // Environment variables reach the remote shell too (LD_PRELOAD=…): policies see them as assignments.
      const text = envPrefix(options.env) + command
      const facts = await describeShell(text)
      // The command ends when its channel closes (core's context.stream()): the channel is handed
      // over at once; its outcome (output bytes, masks, exit status, duration) is stored before
      // the application sees the end of its output. A failure here reaches the callback: the
      // channel was never handed over.
      await session.execute(
        { resource: this.#resourceRef(), action: 'ssh.exec', text, shell: facts },
        (context) =>
          new Promise<void>((resolve, reject) => {
            // Before the channel opens: a command never runs unrecorded.
            const recorder = this.#recorder(context, 'ssh.exec', command, options.pty)
            super.exec(command, options, (error, channel) => {
              if (error) {
                recorder?.close().catch(() => {})
                return reject(error)
              }
              try {
                recorder?.onFailure(() => stopChannel(channel))
                this.#streamChannel(channel, context, recorder, undefined, undefined)
              } catch (setupError) {
                // e.g. the recording cannot be created: the command does not run unrecorded.
                channel.close()
                return reject(setupError)
              }
              resolve()
              callback(undefined, channel)
            })
          }),
        this.#on(),
      )
    })
    return this
  }

  override shell(
    window: ssh2.PseudoTtyOptions | false,
    options: ssh2.ShellOptions,
    callback: ssh2.ClientCallback,
  ): this
  override shell(window: ssh2.PseudoTtyOptions | false, callback: ssh2.ClientCallback): this
  override shell(options: ssh2.ShellOptions, callback: ssh2.ClientCallback): this
  override shell(callback: ssh2.ClientCallback): this
  override shell(...args: unknown[]): this {
    const callback = args.find((a) => typeof a === 'function') as ssh2.ClientCallback | undefined
    if (!callback) throw new WardenTypeError('Client.shell: a callback is required')
    const rest = args.filter((a) => typeof a !== 'function')
    // ssh2's own reading of the arguments: (window, options) or (options) when it has x11/env.
    let [window, options] = rest as [ssh2.PseudoTtyOptions | false | undefined, ssh2.ShellOptions | undefined]
    if (
      window &&
      ((window as ssh2.ShellOptions).x11 !== undefined || (window as ssh2.ShellOptions).env !== undefined)
    ) {
      options = window as ssh2.ShellOptions
      window = undefined
    }
    this.#guard(failWith(callback), async (session) => {
      refuseForwarding(options ?? {})
      if (options?.env && Object.keys(options.env).length > 0)
        throw new WardenError(
          'ERR_WARDEN_UNSUPPORTED',
          'Client.shell: "env" is not supported; set variables on the command line',
        )
      const cols = (window || undefined)?.cols || 80
      const rows = (window || undefined)?.rows || 24
      const resource = this.#resourceRef()
      const connection = this.#on() // each line runs on this shell's connection
      // Like exec: the shell command ends when its channel closes (context.stream()).
      await session.execute(
        { resource, action: 'ssh.shell', text: '', shell: EMPTY_SHELL },
        (context) =>
          new Promise<void>((resolve, reject) => {
            const recorder = this.#recorder(
              context,
              'ssh.shell',
              undefined,
              window || { cols, rows, term: 'vt100' },
            )
            super.shell(window ?? {}, options ?? {}, (error, channel) => {
              if (error) {
                recorder?.close().catch(() => {})
                return reject(error)
              }
              try {
                recorder?.onFailure(() => stopChannel(channel))
                const gate = new ShellGate({
                  cols,
                  rows,
                  decide: async (line) => {
                    const facts = await describeShell(line, { interactive: true })
                    await session.execute(
                      { resource, action: 'ssh.shell', text: line, shell: facts },
                      () => undefined,
                      connection,
                    )
                    return facts.programs // the gate trusts the alternate screen only for full-screen programs
                  },
                  fullScreenPrograms: this.#fullScreenPrograms,
                  notify: (message) => notice(`\r\n${message}\r\n`),
                })
                const notice = this.#streamChannel(
                  channel,
                  context,
                  recorder,
                  (chunk) => gate.feed(chunk),
                  () => gate.dispose(),
                )
                hookChannelInput(channel, (chunk, send) => gate.input(chunk, send))
                const setWindow = channel.setWindow.bind(channel)
                channel.setWindow = (r: number, c: number, h: number, w: number) => {
                  gate.resize(c, r)
                  setWindow(r, c, h, w)
                }
              } catch (setupError) {
                channel.close()
                return reject(setupError)
              }
              resolve()
              callback(undefined, channel)
            })
          }),
        connection,
      )
    })
    return this
  }

  override sftp(callback: ssh2.ClientSFTPCallback): this
  override sftp(...args: unknown[]): this {
    const callback = args.find((a) => typeof a === 'function') as ssh2.ClientSFTPCallback | undefined
    if (!callback) throw new WardenTypeError('Client.sftp: a callback is required')
    const env = args.find((a) => typeof a === 'object' && a !== null)
    this.#guard(failWith(callback), async (session) => {
      const resource = this.#resourceRef()
      const connection = this.#on()
      const gate: SftpGate = (check, run) =>
        session.execute(
          {
            resource,
            action: check.action,
            text: `${check.op} ${check.path}`,
            sftp: { op: check.op, path: check.path },
            refusal: check.refusal,
          },
          () => run(),
          connection,
        )
      const sftp = await new Promise<ssh2.SFTPWrapper>((resolve, reject) => {
        const done = (error: Error | undefined, s: ssh2.SFTPWrapper) => (error ? reject(error) : resolve(s))
        if (env) (super.sftp as (e: unknown, cb: typeof done) => this)(env, done)
        else super.sftp(done)
      })
      callback(undefined, guardSftp(sftp, gate))
    })
    return this
  }

  override forwardOut(
    srcIP: string,
    srcPort: number,
    dstIP: string,
    dstPort: number,
    callback?: ssh2.ClientCallback,
  ): this {
    const cb = callback ?? (() => {})
    this.#guard(failWith(cb), (session) =>
      this.#forward(session, dstIP, dstPort, () =>
        promisify<ssh2.ClientChannel>((done) => super.forwardOut(srcIP, srcPort, dstIP, dstPort, done)),
      ).then((channel) => cb(undefined, channel)),
    )
    return this
  }

  override forwardIn(remoteAddr: string, remotePort: number, callback?: ssh2.ClientForwardCallback): this {
    const cb = callback ?? (() => {})
    this.#guard(failWith(cb), (session) =>
      this.#forward(session, remoteAddr, remotePort, () =>
        promisify<number>((done) => super.forwardIn(remoteAddr, remotePort, done)),
      ).then((port) => cb(undefined as never, port)),
    )
    return this
  }

  override openssh_forwardOutStreamLocal(socketPath: string, callback: ssh2.ClientCallback): this {
    this.#guard(failWith(callback), (session) =>
      this.#forward(session, socketPath, 0, () =>
        promisify<ssh2.ClientChannel>((done) => super.openssh_forwardOutStreamLocal(socketPath, done)),
      ).then((channel) => callback(undefined, channel)),
    )
    return this
  }

  override openssh_forwardInStreamLocal(socketPath: string, callback: ssh2.Callback): this {
    this.#guard(failWith(callback), (session) =>
      this.#forward(session, socketPath, 0, () =>
        promisify<void>((done) =>
          super.openssh_forwardInStreamLocal(socketPath, (error) => done(error ?? undefined, undefined)),
        ),
      ).then(() => callback(undefined as never)),
    )
    return this
  }

  /** Subsystems other than sftp (use `sftp()`) have no request model: refused. */
  override subsys(name: string, callback: ssh2.ClientCallback): this {
    this.#guard(failWith(callback), async () => {
      throw new WardenError(
        'ERR_WARDEN_UNSUPPORTED',
        `Client.subsys("${name}") is not supported; use sftp() for SFTP`,
      )
    })
    return this
  }

  #forward<T>(session: Session, host: string, port: number, open: () => Promise<T>): Promise<T> {
    return session.execute(
      {
        resource: this.#resourceRef(),
        action: 'ssh.forward',
        text: `forward ${host}:${port}`,
        forward: { host, port },
      },
      () => open(),
      this.#on(),
    )
  }

  /** Resolves the session now (the caller's async context), then runs `body`; errors go to the callback. */
  #guard(fail: (error: Error) => void, body: (session: Session) => Promise<void>): void {
    let session: Session
    try {
      session = this.#source.current()
    } catch (error) {
      queueMicrotask(() => fail(asError(error)))
      return
    }
    body(session).catch((error: unknown) => fail(asError(error)))
  }

  /** Every command runs on the connection's grant: core checks its owner and records its lease. */
  #on(): ExecuteOptions {
    if (this.#grant === undefined)
      throw new WardenError('ERR_WARDEN_CONFIG', 'Client: wait for "ready" before opening channels')
    return { connection: this.#grant }
  }

  #resourceRef(): Command['resource'] {
    if (!this.#resource)
      throw new WardenError('ERR_WARDEN_CONFIG', 'Client: call connect() before opening channels')
    return this.#resource
  }

  #recorder(
    context: ExecuteContext,
    action: string,
    command: string | undefined,
    pty: ssh2.PseudoTtyOptions | boolean | undefined,
  ): AsciicastRecorder | undefined {
    if (this.#recordings === false) return undefined
    const window = typeof pty === 'object' ? pty : {}
    const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${process.pid}-${++recordingSeq}`
    const recorder = new AsciicastRecorder(this.#recordings, name, {
      width: window.cols || 80,
      height: window.rows || 24,
      title: `${action} ssh:${this.#resource?.name}`,
      command: command === undefined ? undefined : context.masker ? context.masker.text(command) : command,
      term: window.term,
    })
    context.link('recording', recorder.path)
    return recorder
  }

  /**
   * Masks stdout and stderr as streams (when the decision has masks), records them, and ends the
   * command with the channel (context.stream()): output bytes are counted, the exit status
   * reported, and the end of both streams (the masked tail held at EOF, then EOF itself; ssh2
   * emits 'close' only after 'end') is released only once the outcome record is stored. If it
   * cannot be, the channel errors with ERR_WARDEN_RAN_UNRECORDED instead of ending. Returns a
   * function that shows a notice to the user (interactive shells).
   */
  #streamChannel(
    channel: ssh2.ClientChannel,
    context: ExecuteContext,
    recorder: AsciicastRecorder | undefined,
    onRaw: ((chunk: Buffer) => void) | undefined,
    dispose: (() => void) | undefined,
  ): (text: string) => void {
    const out = context.stream()
    const interactive = onRaw !== undefined
    const make = () =>
      new OutputFilter({
        masker: context.masker,
        onText: (text) => recorder?.output(text),
        ...(interactive ? { flushPartialAfterMs: 30 } : {}),
      })
    const filters = { stdout: make(), stderr: make() }
    const counted =
      (push: (chunk: Buffer | null) => boolean) =>
      (chunk: Buffer | null): boolean => {
        if (chunk !== null) out.bytes(chunk.length)
        return push(chunk)
      }
    // What each stream emits at its EOF (the masked tail, then null): held until the record exists.
    const tails = { stdout: [] as (Buffer | null)[], stderr: [] as (Buffer | null)[] }
    const eof = { stdout: false, stderr: false }
    let ending = false
    // The application closing (or destroying: ssh2's destroy is end + close) the channel before
    // it ended abandons the command: its remote process is stopped too (sshd keeps a channel open
    // while its process runs), and the command ends when sshd confirms the close.
    let abandoned = false
    let stopping = false
    const abandon = () => {
      if (ending || stopping || abandoned) return
      abandoned = true
      // Before ssh2's destroy ends stdin: it sends no signal on a channel no longer writable.
      try {
        channel.signal('KILL')
      } catch {}
    }
    const close = channel.close.bind(channel)
    const destroy = channel.destroy.bind(channel)
    channel.close = () => {
      abandon()
      return close()
    }
    channel.destroy = () => {
      abandon()
      return destroy()
    }
    // Session closed: stop the remote process (sshd keeps the channel while it runs).
    const abort = () => {
      stopping = true
      stopChannel(channel)
    }
    context.signal.addEventListener('abort', abort, { once: true })
    // ssh2 emits ('exit', code) or ('exit', null, signalName, ...) before 'close'.
    let exited = false
    channel.once('exit', (code: number | null, signal?: string) => {
      exited = true
      context.exited(code, signal)
    })
    const end = async () => {
      context.signal.removeEventListener('abort', abort)
      dispose?.()
      let failure: unknown
      // The connection dropped under a running command: it ended without saying how.
      if (this.#disconnected && !exited && !abandoned)
        failure = new Error('the ssh connection closed before the remote command reported its exit')
      try {
        await recorder?.close()
      } catch (error) {
        failure ??= error // the recording could not be completed: the command's outcome says so
      }
      try {
        await (failure === undefined && abandoned ? out.cancel() : out.end(failure))
      } catch (unrecorded) {
        // Not ended: errored, as a Node stream is (ssh2 would emit 'close' only after 'end').
        process.nextTick(() => {
          channel.emit('error', unrecorded)
          channel.emit('close')
        })
        return
      }
      for (const stream of ['stdout', 'stderr'] as const)
        for (const chunk of tails[stream]) raw[stream](chunk)
    }
    const raw = hookChannelOutput(channel, (chunk, stream, push) => {
      if (chunk !== null) {
        if (onRaw && stream === 'stdout') onRaw(chunk)
        filters[stream].write(chunk, counted(push))
        return
      }
      if (!eof[stream]) {
        eof[stream] = true
        filters[stream].write(null, (c) => {
          if (c !== null) out.bytes(c.length)
          tails[stream].push(c)
          return true
        })
      }
      // An EOF only ends the output; the command ends when the server closes the channel.
      if (!ending && channelClosed(channel)) {
        ending = true
        void end()
      }
    })
    return (text) => filters.stdout.inject(text, counted(raw.stdout))
  }
}

/** Stops the remote process (sshd keeps the channel while it runs) and closes the channel. */
function stopChannel(channel: ssh2.ClientChannel): void {
  try {
    channel.signal('KILL')
  } catch {}
  channel.close()
}

function refuseForwarding(options: { agentForward?: boolean; x11?: unknown }): void {
  if (options.agentForward)
    throw new WardenError(
      'ERR_WARDEN_UNSUPPORTED',
      'agent forwarding would lend the session key to the remote host; refused',
    )
  if (options.x11) throw new WardenError('ERR_WARDEN_UNSUPPORTED', 'X11 forwarding is refused')
}

const POSIX_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

function envPrefix(env: NodeJS.ProcessEnv | undefined): string {
  if (!env) return ''
  let out = ''
  for (const [name, value] of Object.entries(env)) {
    // The prefix is shell text: a name like `#` or `a;b` would turn it into other syntax.
    if (!POSIX_NAME.test(name))
      throw new WardenTypeError(`Client.exec: env name ${JSON.stringify(name)} is not a POSIX variable name`)
    out += `${name}=${shellQuote(String(value ?? ''))} `
  }
  return out
}

const shellQuote = (value: string) => `'${value.replace(/'/g, `'\\''`)}'`

function promisify<T>(start: (done: (error: Error | undefined, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((error, value) => (error ? reject(error) : resolve(value))))
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
