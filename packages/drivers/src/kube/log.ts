import type { Writable } from 'node:stream'
import { WardenError } from '@warden/policy'
import { StreamMasker } from '../internal/stream-masker.js'
import { k8s } from './internal/kube-internals.js'
import { atExpiry } from './internal/transport.js'
import { type KubeConfig, transportOf } from './kube-config.js'

/**
 * `@kubernetes/client-node`'s Log, guarded: decided and audited as `kube.get` on `pods/log`, and, when policy
 * masks apply, the log is masked as a stream (`masker.text` per line, private-key PEM blocks and JSON documents
 * across lines) before it reaches `stream`.
 * Same signature as upstream.
 * Exported from `@warden/drivers/kube`. Rejects with `ERR_WARDEN_DENIED` (and the other pipeline codes) or `ApiException`.
 * @example await new Log(kc).log('default', 'web-1', 'app', process.stdout, { tailLines: 100 })
 */
export class Log extends k8s.Log {
  constructor(config: KubeConfig) {
    transportOf(config)
    super(config)
  }

  override async log(
    namespace: string,
    podName: string,
    containerName: string,
    stream: Writable,
    doneOrOptions?: ((err: any) => void) | k8s.LogOptions,
    options?: k8s.LogOptions,
  ): Promise<AbortController> {
    const opts = typeof doneOrOptions === 'function' ? options : doneOrOptions
    const transport = transportOf(this.config)
    const url = new URL(
      `${transport.server}/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(podName)}/log`,
    )
    url.searchParams.set('container', containerName)
    k8s.AddOptionsToSearchParams(opts, url.searchParams)
    const controller = new AbortController()
    let opened: Awaited<ReturnType<typeof transport.stream>>
    try {
      opened = await transport.stream(url, controller.signal)
    } catch (err) {
      if (err instanceof WardenError || err instanceof k8s.ApiException) throw err
      throw new k8s.ApiException(500, 'Error occurred in log request', undefined, {})
    }
    const { response, masker, command } = opened
    const headers: Record<string, string> = {}
    response.headers.forEach((v, k) => {
      headers[k] = v
    })
    if (response.status !== 200) {
      const text = await response.text().catch(() => '')
      let status: any
      try {
        status = JSON.parse(text)
      } catch {}
      // Status messages can echo input; mask them like log lines.
      const message = typeof status?.message === 'string' ? status.message : 'Error occurred in log request'
      const error = new k8s.ApiException(
        typeof status?.code === 'number' ? status.code : response.status,
        masker ? masker.text(message) : message,
        status && masker ? masker.json(status) : status,
        headers,
      )
      // The command ended with the server's refusal: recorded before the caller hears it.
      await command.end(error)
      throw error
    }
    // Masked as a stream (a key or a JSON document over several log lines); past 1 MiB held, redacted.
    const splitter = masker
      ? new StreamMasker(masker, { maxHeldChars: 1024 * 1024, overflow: 'redact' })
      : null
    const decoder = new TextDecoder()
    const write = (chunk: Uint8Array | string) => {
      command.bytes(typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength)
      if (!stream.destroyed) stream.write(chunk)
    }
    // Returns what the masker held at the end (written with the end, once the record exists).
    const pump = async (): Promise<string> => {
      const reader = response.body!.getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        if (splitter === null) write(value)
        else {
          const out = splitter.push(decoder.decode(value, { stream: true }))
          if (out !== '') write(out)
        }
      }
      if (splitter === null) return ''
      const rest = splitter.push(decoder.decode()) + splitter.end()
      if (rest !== '') command.bytes(Buffer.byteLength(rest))
      return rest
    }
    // A followed log may not outlive its credential: it ends cleanly at lease expiry.
    let expired = false
    const cancelExpiry = atExpiry(opened.expiresAt, () => {
      expired = true
      controller.abort()
    })
    // The caller destroying its stream abandons the log: the request is aborted, the command ends.
    let ended = false
    stream.once('close', () => {
      if (!ended) controller.abort()
    })
    // The command ends when the log does: the end (the masked tail, then end()) or the error
    // reaches `stream` only once the outcome record is stored; if it cannot be, the stream is
    // destroyed with ERR_WARDEN_RAN_UNRECORDED.
    const finish = async (rest: string, error: unknown) => {
      ended = true
      cancelExpiry()
      const abandoned = error !== undefined && !expired && (controller.signal.aborted || stream.destroyed)
      try {
        if (abandoned) await command.cancel()
        else await command.end(expired ? undefined : error)
      } catch (unrecorded) {
        stream.destroy(unrecorded as Error)
        return
      }
      if (stream.destroyed) return
      if (error === undefined || expired) {
        if (rest !== '') stream.write(rest)
        stream.end()
      } else stream.destroy(error as Error)
    }
    pump().then(
      (rest) => finish(rest, undefined),
      (error: unknown) => finish('', error ?? new Error('the log stream failed')),
    )
    return controller
  }
}
