import { WardenError } from '@warden/policy'
import { isJsonMediaType } from './internal/encoding.js'
import { k8s } from './internal/kube-internals.js'
import { maskKubeValue } from './internal/mask-kube.js'
import { atExpiry } from './internal/transport.js'
import { type KubeConfig, transportOf } from './kube-config.js'

/**
 * `@kubernetes/client-node`'s Watch, guarded: the watch is decided and audited as `kube.watch` when it starts,
 * and every event's object is masked (Secret values unless `kube.reveal` is allowed, then policy masks)
 * before `callback` sees it. Same signature as upstream.
 * Exported from `@warden/drivers/kube`. Rejects with `ERR_WARDEN_DENIED` (and the other pipeline codes).
 * @example await new Watch(kc).watch('/api/v1/namespaces/default/pods', {}, (type, pod) => {}, (err) => {})
 */
export class Watch extends k8s.Watch {
  constructor(config: KubeConfig) {
    transportOf(config)
    super(config)
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    const transport = transportOf(this.config)
    const url = new URL(transport.server + path)
    url.searchParams.set('watch', 'true')
    for (const [key, val] of Object.entries(queryParams ?? {}))
      if (val !== undefined) url.searchParams.set(key, String(val))
    const controller = new AbortController()
    let doneCalled = false
    let cancelExpiry = () => {}
    const doneOnce = (err: unknown) => {
      if (doneCalled) return
      doneCalled = true
      cancelExpiry()
      controller.abort()
      done(err)
    }
    let opened: Awaited<ReturnType<typeof transport.stream>>
    try {
      opened = await transport.stream(url, controller.signal)
    } catch (err) {
      // A refusal (policy, approval, broker) rejects like upstream's option errors; transport failures go to done.
      if (err instanceof WardenError) throw err
      doneOnce(err)
      return controller
    }
    const { response, mask } = opened
    // The stream may not outlive its credential: it ends cleanly at lease expiry (informers re-list and
    // re-watch, which takes a fresh lease and a fresh decision).
    let expired = false
    cancelExpiry = atExpiry(opened.expiresAt, () => {
      expired = true
      controller.abort()
    })
    if (response.status !== 200) {
      await response.body?.cancel().catch(() => {})
      const error = new Error(response.statusText || `HTTP ${response.status}`) as Error & {
        statusCode: number
      }
      error.statusCode = response.status
      doneOnce(error)
      return controller
    }
    // Events are masked only as JSON; an answer in another encoding is refused, never passed on.
    if (!isJsonMediaType(response.headers.get('content-type'))) {
      await response.body?.cancel().catch(() => {})
      doneOnce(
        new WardenError(
          'ERR_WARDEN_MASKING',
          `the Kubernetes API answered the watch with ${response.headers.get('content-type') ?? 'no content type'}, not JSON`,
        ),
      )
      return controller
    }
    const pump = async () => {
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
      let pending = ''
      for (;;) {
        const { done: end, value } = await reader.read()
        if (end) break
        pending += value
        let nl = pending.indexOf('\n')
        while (nl !== -1) {
          const line = pending.slice(0, nl)
          pending = pending.slice(nl + 1)
          if (line.trim() !== '') deliver(line)
          nl = pending.indexOf('\n')
        }
      }
      if (pending.trim() !== '') deliver(pending)
    }
    const deliver = (line: string) => {
      let data: any
      try {
        data = JSON.parse(line)
      } catch {
        return // upstream ignores lines that do not parse
      }
      const masked = maskKubeValue(data, mask) as any
      callback(masked?.type, masked?.object, masked)
    }
    pump().then(
      () => doneOnce(null),
      (err) => doneOnce(expired ? null : err),
    )
    return controller
  }
}
