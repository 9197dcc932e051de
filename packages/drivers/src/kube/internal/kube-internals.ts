// Every @kubernetes/client-node internal the kube driver relies on, in one place.
// Checked against 1.4.x on Node 20 (test/kube/internals.test.ts); 2.x exposes the same names (research §4.2),
// but it cannot load on Node 20, so 2.x is untested here. If a name moves, construction fails closed.
import * as k8s from '@kubernetes/client-node'
import { WebSocketHandler } from '@kubernetes/client-node/dist/web-socket-handler.js'
import { WardenError } from '@warden/policy'

export type { Configuration, RequestContext, ResponseContext } from '@kubernetes/client-node'
export { k8s, WebSocketHandler }

let checked = false

/** Throws ERR_WARDEN_UNSUPPORTED when the installed client lacks an internal the driver needs. */
export function assertSupportedClient(): void {
  if (checked) return
  const missing: string[] = []
  const need: Record<string, unknown> = {
    KubeConfig: k8s.KubeConfig,
    ResponseContext: k8s.ResponseContext,
    wrapHttpLibrary: k8s.wrapHttpLibrary,
    createConfiguration: k8s.createConfiguration,
    ServerConfiguration: k8s.ServerConfiguration,
    Watch: k8s.Watch,
    Log: k8s.Log,
    Exec: k8s.Exec,
    Attach: k8s.Attach,
    PortForward: k8s.PortForward,
    'WebSocketHandler.connect': (WebSocketHandler as any)?.prototype?.connect,
    'KubeConfig.applyToHTTPSOptions': (k8s.KubeConfig as any)?.prototype?.applyToHTTPSOptions,
  }
  for (const [name, value] of Object.entries(need)) if (typeof value !== 'function') missing.push(name)
  if (missing.length > 0)
    throw new WardenError(
      'ERR_WARDEN_UNSUPPORTED',
      `@kubernetes/client-node lacks ${missing.join(', ')}; @warden/drivers/kube supports 1.4.x (and 2.x on Node >= 22)`,
    )
  checked = true
}
