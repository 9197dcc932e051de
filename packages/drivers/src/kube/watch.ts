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
    const { response, mask, command } = opened
    // The command ends with the watch: `done` is called only once its outcome record is stored
    // (or with ERR_WARDEN_RAN_UNRECORDED if it cannot be).
    const finish = async (error: unknown) => {
      // The caller aborting the controller it was given abandons the watch.
      const abandoned = error !== null && !expired && controller.signal.aborted && !doneCalled
      try {
        if (abandoned) await command.cancel()
        else await command.end(error === null ? undefined : error)
      } catch (unrecorded) {
        doneOnce(unrecorded)
        return
      }
      doneOnce(error)
    }
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
      await finish(error)
      return controller
    }
    // Events are masked only as JSON; an answer in another encoding is refused, never passed on.
    if (!isJsonMediaType(response.headers.get('content-type'))) {
      await response.body?.cancel().catch(() => {})
      await finish(
        new WardenError(
          'ERR_WARDEN_MASKING',
          `the Kubernetes API answered the watch with ${response.headers.get('content-type') ?? 'no content type'}, not JSON`,
        ),
      )
      return controller
    }
    const pump = async () => {
      const reader = response.body!.getReader()
      const decoder = new TextDecoder()
      let pending = ''
      for (;;) {
        const { done: end, value } = await reader.read()
        if (end) break
        command.bytes(value.byteLength)
        pending += decoder.decode(value, { stream: true })
        let nl = pending.indexOf('\n')
        while (nl !== -1) {
          const line = pending.slice(0, nl)
          pending = pending.slice(nl + 1)
          if (line.trim() !== '') deliver(line)
          nl = pending.indexOf('\n')
        }
      }
      pending += decoder.decode()
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
      command.rows(1)
      callback(masked?.type, masked?.object, masked)
    }
    pump().then(
      () => finish(null),
      (err) => finish(expired ? null : (err ?? new Error('the watch stream failed'))),
    )
    return controller
  }
}
