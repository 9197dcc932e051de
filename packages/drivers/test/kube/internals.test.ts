// The @kubernetes/client-node internals the driver relies on (src/kube/internal/kube-internals.ts), checked
// against the installed version so an upgrade that moves one fails here, not silently in production.
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import * as k8s from '@kubernetes/client-node'
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js'
import { describe, expect, test } from 'vitest'

const pkg = JSON.parse(
  readFileSync(createRequire(import.meta.url).resolve('@kubernetes/client-node/package.json'), 'utf8'),
) as { version: string }

describe('@kubernetes/client-node internals', () => {
  test('a supported version is installed (1.4.x on Node 20)', () => {
    expect(pkg.version).toMatch(/^1\.4\./)
  })

  test('the generated stack exposes the hooks the transport uses', () => {
    expect(typeof k8s.wrapHttpLibrary).toBe('function')
    expect(typeof k8s.createConfiguration).toBe('function')
    const ctx = new k8s.ServerConfiguration<Record<string, string>>(
      'https://k8s.invalid',
      {},
    ).makeRequestContext('/api/v1/pods', k8s.HttpMethod.GET)
    for (const m of ['getUrl', 'getHttpMethod', 'getHeaders', 'getBody', 'getSignal'] as const)
      expect(typeof ctx[m]).toBe('function')
    const res = new k8s.ResponseContext(
      200,
      {},
      { text: async () => 'x', binary: async () => Buffer.from('x') },
    )
    expect(res.httpStatusCode).toBe(200)
  })

  test('WebSocket paths go through handler.connect and KubeConfig.applyToHTTPSOptions', () => {
    expect(typeof WebSocketHandler.prototype.connect).toBe('function')
    expect(typeof k8s.KubeConfig.prototype.applyToHTTPSOptions).toBe('function')
    expect(WebSocketHandler.StatusStream).toBe(3)
    // Exec/Attach keep the handler they are given (our constructors pass GuardedWebSocketHandler).
    const kc = new k8s.KubeConfig()
    const h = { connect: async () => null as never }
    expect(new k8s.Exec(kc, h).handler).toBe(h)
    expect(new k8s.Attach(kc, h).handler).toBe(h)
  })
})
