import type { Masker } from '@warden/core'
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
      let handler = binaryHandler
      let flush = () => {}
      if (context.masker !== null && binaryHandler !== null) {
        if (new URL(path, 'http://x').pathname.endsWith('/portforward'))
          throw new WardenError(
            'ERR_WARDEN_MASKING',
            'masks apply to this port-forward, but a raw TCP tunnel cannot be masked',
          )
        ;({ handler, flush } = maskingHandler(binaryHandler, context.masker))
      }
      const ws = await withWebSocketAuthorization(authorization, () =>
        super.connect(path, textHandler, handler),
      )
      // The connection may not outlive its credential: closed normally at lease expiry.
      const cancelExpiry = atExpiry(context.lease?.expiresAt, () => ws.close(1000, 'warden: lease expired'))
      ws.addEventListener('close', () => {
        cancelExpiry()
        flush()
      })
      return ws
    })
  }
}

/** Masks channels 1 and 2 as streams (internal/stream-masker.ts) and flushes what is held before the status frame. */
function maskingHandler(inner: (stream: number, buff: Buffer) => boolean, masker: Masker) {
  const make = () => new StreamMasker(masker, { maxHeldChars: 1024 * 1024, overflow: 'redact' })
  const splitters = new Map([
    [STDOUT, { lines: make(), decoder: new TextDecoder() }],
    [STDERR, { lines: make(), decoder: new TextDecoder() }],
  ])
  const flush = () => {
    for (const [channel, s] of splitters) {
      const rest = s.lines.push(s.decoder.decode()) + s.lines.end()
      if (rest !== '') inner(channel, Buffer.from(rest))
    }
  }
  const handler = (stream: number, buff: Buffer): boolean => {
    const s = splitters.get(stream)
    if (s === undefined) {
      if (stream === STATUS) flush()
      return inner(stream, buff)
    }
    const out = s.lines.push(s.decoder.decode(buff, { stream: true }))
    return out === '' ? true : inner(stream, Buffer.from(out))
  }
  return { handler, flush }
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
