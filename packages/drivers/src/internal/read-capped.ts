// Shared by the HTTP-speaking drivers (fetch, kube): a response body is read whole only up to a cap,
// because a body that must be masked cannot be passed on half-read.
import { WardenError } from '@warden/policy'

/** Reads a response body as UTF-8, refusing (ERR_WARDEN_MASKING) one larger than `max` bytes. */
export async function readCapped(res: Response, max: number, what: string): Promise<string> {
  if (res.body === null) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > max) {
      await reader.cancel().catch(() => {})
      throw new WardenError(
        'ERR_WARDEN_MASKING',
        `${what} exceeds maxBufferBytes (${max}); it cannot be masked`,
      )
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}
