import type { CommandStream, ExecuteContext } from '@warden/core'
import { WardenError } from '@warden/policy'
import type WebSocket from 'isomorphic-ws'
import { StreamMasker } from '../internal/stream-masker.js'
import { k8s, WebSocketHandler } from './internal/kube-internals.js'
import { atExpiry } from './internal/transport.js'
import { type KubeConfig, transportOf, withWebSocketAuthorization } from './kube-config.js'

const STDOUT = 1
const STDERR = 2
const STATUS = 3

/**
 * The WebSocket handler behind this module's Exec, Attach and PortForward: each connection is described
 * (`kube.exec` with `command` and `container`, `kube.attach`, `kube.portforward`), decided, audited, dialled
 * with the broker's token to the cluster origin only, and its stdout/stderr lines masked when masks apply.
 * Exported from `@warden/drivers/kube` (for `new Exec(kc, handler)`-style code and Cp).
 */
export class GuardedWebSocketHandler extends WebSocketHandler {
  constructor(kc: KubeConfig) {
    transportOf(kc)
    super(kc)
  }

  override async connect(
    path: string,
    textHandler: ((text: string) => boolean) | null,
    binaryHandler: ((stream: number, buff: Buffer) => boolean) | null,
  ): Promise<WebSocket.WebSocket> {
    const transport = transportOf(this.config)
    return transport.websocket(path, async (authorization, context) => {
      const pathname = new URL(path, 'http://x').pathname
      if (context.masker !== null && binaryHandler !== null && pathname.endsWith('/portforward'))
        throw new WardenError(
          'ERR_WARDEN_MASKING',
          'masks apply to this port-forward, but a raw TCP tunnel cannot be masked',
        )
      // The command ends with the connection (core's context.stream()): exec at its status frame.
      const command = context.stream()
      let ws: WebSocket.WebSocket | undefined
      // Port-forward channels are data/error pairs per port, not stdout/stderr/status: not wrapped.
      const channels =
        binaryHandler === null || pathname.endsWith('/portforward')
          ? null
          : channelHandler(binaryHandler, context, command, () => ws?.close(1000))
      ws = await withWebSocketAuthorization(authorization, () =>
        super.connect(path, textHandler, channels?.handler ?? binaryHandler),
      )
      const socket = ws
      // The connection may not outlive its credential: closed normally at lease expiry.
      let expired = false
      const cancelExpiry = atExpiry(context.lease?.expiresAt, () => {
        expired = true
        socket.close(1000, 'warden: lease expired')
      })
      // The caller closing the socket before the command ended abandons it.
      let abandoned = false
      const close = socket.close.bind(socket)
      socket.close = ((...args: Parameters<typeof socket.close>) => {
        if (!expired && channels?.ended !== true) abandoned = true
        return close(...args)
      }) as typeof socket.close
      socket.addEventListener('close', () => {
        cancelExpiry()
        if (channels?.ended === true) return
        // No status frame: an exec that ends here ended without saying how (unless abandoned).
        const exec = pathname.endsWith('/exec') && channels !== null
        const lost = exec && !abandoned && !expired
        void channels?.finish(
          lost ? new Error('the exec connection closed before the command reported its status') : undefined,
          abandoned,
        )
        if (channels === null) void (abandoned ? command.cancel() : command.end()).catch(() => {})
      })
      return socket
    })
  }
}

/**
 * Masks channels 1 and 2 as streams (internal/stream-masker.ts) when masks apply, counts their
 * bytes, and ends the command at the status frame: the masked tails and the status (which ends
 * the caller's stdout/stderr and calls its statusCallback) are released only once the outcome
 * record, with the exit status, is stored. If it cannot be, the caller gets a Failure status with
 * reason ERR_WARDEN_RAN_UNRECORDED instead of the command's.
 */
function channelHandler(
  inner: (stream: number, buff: Buffer) => boolean,
  context: ExecuteContext,
  command: CommandStream,
  close: () => void,
) {
  const masker = context.masker
  const make = () =>
    masker === null ? null : new StreamMasker(masker, { maxHeldChars: 1024 * 1024, overflow: 'redact' })
  const splitters = new Map([
    [STDOUT, { lines: make(), decoder: new TextDecoder() }],
    [STDERR, { lines: make(), decoder: new TextDecoder() }],
  ])
  const deliver = (stream: number, buff: Buffer): boolean => {
    command.bytes(buff.length)
    return inner(stream, buff)
  }
  const state = {
    ended: false,
    handler(stream: number, buff: Buffer): boolean {
      if (state.ended) return true
      const s = splitters.get(stream)
      if (s === undefined) {
        if (stream !== STATUS) return inner(stream, buff)
        void state.status(buff)
        return true
      }
      if (s.lines === null) return deliver(stream, buff)
      const out = s.lines.push(s.decoder.decode(buff, { stream: true }))
      return out === '' ? true : deliver(stream, Buffer.from(out))
    },
    /** The tails the maskers held, counted now (for the record), released with the end. */
    tails(): [number, Buffer][] {
      const out: [number, Buffer][] = []
      for (const [channel, s] of splitters) {
        if (s.lines === null) continue
        const rest = s.lines.push(s.decoder.decode()) + s.lines.end()
        if (rest === '') continue
        const buff = Buffer.from(rest)
        command.bytes(buff.length)
        out.push([channel, buff])
      }
      return out
    },
    async status(buff: Buffer): Promise<void> {
      state.ended = true
      let status: { status?: string; reason?: string; message?: string; details?: any } | undefined
      try {
        status = JSON.parse(buff.toString('utf8'))
      } catch {}
      let error: Error | undefined
      if (status?.status === 'Success') context.exited(0)
      else if (status?.reason === 'NonZeroExitCode') {
        const cause = (status.details?.causes ?? []).find((c: any) => c?.reason === 'ExitCode')
        context.exited(Number.parseInt(String(cause?.message), 10))
      } else error = new Error(String(status?.message ?? 'the exec ended with a failure status'))
      const tails = state.tails()
      try {
        await command.end(error)
      } catch (unrecorded) {
        const message = (unrecorded as Error).message
        const failure = { status: 'Failure', reason: 'ERR_WARDEN_RAN_UNRECORDED', message }
        if (!inner(STATUS, Buffer.from(JSON.stringify(failure)))) close()
        return
      }
      for (const [channel, tail] of tails) inner(channel, tail)
      if (!inner(STATUS, buff)) close()
    },
    /** The connection closed before a status frame. */
    async finish(error: Error | undefined, abandoned: boolean): Promise<void> {
      if (state.ended) return
      state.ended = true
      const tails = state.tails()
      try {
        await (error === undefined && abandoned ? command.cancel() : command.end(error))
      } catch {
        return // the connection is gone: nothing to hand the tails to; the sink's failure refuses what follows
      }
      for (const [channel, tail] of tails) inner(channel, tail)
    },
  }
  return state
}

/**
 * `@kubernetes/client-node`'s Exec, guarded (action `kube.exec`, facts `command` and `container`).
 * Exported from `@warden/drivers/kube`. Same signature as upstream.
 * @example await new Exec(kc).exec('default', 'web-1', 'app', ['cat', '/etc/hostname'], stdout, stderr, null, false)
 */
export class Exec extends k8s.Exec {
  constructor(config: KubeConfig) {
    super(config, new GuardedWebSocketHandler(config))
  }
}

/** `@kubernetes/client-node`'s Attach, guarded (action `kube.attach`). Exported from `@warden/drivers/kube`. */
export class Attach extends k8s.Attach {
  constructor(config: KubeConfig) {
    super(config, new GuardedWebSocketHandler(config))
  }
}

/** `@kubernetes/client-node`'s PortForward, guarded (action `kube.portforward`). Exported from `@warden/drivers/kube`. */
export class PortForward extends k8s.PortForward {
  constructor(config: KubeConfig, disconnectOnErr?: boolean) {
    super(config, disconnectOnErr, new GuardedWebSocketHandler(config))
  }
}
