// Masks a fetch Response body with the command's masker before the caller can read it.
import type { Masker } from '@warden/core'
import { WardenError } from '@warden/policy'
import { contentKind } from './content-kind.js'
import { lineTransform } from './line-transform.js'

export interface MaskResponseOptions {
  /** JSON bodies are buffered to be masked as a whole; larger ones fail closed. */
  readonly maxBufferBytes: number
  /** What to do with a body that is neither JSON nor text when masks apply. */
  readonly binaryBodies: 'deny' | 'pass'
}

/** Masks `res` (JSON by path and detectors, NDJSON per line, text per line) and returns a new Response. */
export async function maskResponse(
  res: Response,
  masker: Masker,
  options: MaskResponseOptions,
): Promise<Response> {
  if (res.body === null) return res
  const kind = contentKind(res.headers.get('content-type'))
  if (kind === 'binary') {
    if (options.binaryBodies === 'pass') return res
    await res.body.cancel().catch(() => {})
    throw new WardenError(
      'ERR_WARDEN_MASKING',
      `masks apply to this request but the response is ${res.headers.get('content-type')}, which cannot be masked; pass binaryBodies: 'pass' to createFetch to let such bodies through unmasked`,
    )
  }
  const headers = new Headers(res.headers)
  // The body we hand out is decoded and rewritten: its length and encoding changed.
  headers.delete('content-length')
  headers.delete('content-encoding')
  const init = { status: res.status, statusText: res.statusText, headers }
  if (kind === 'json') {
    const text = await readCapped(res, options.maxBufferBytes)
    return rebuild(new Response(text === '' ? '' : maskJsonText(text, masker), init), res)
  }
  const perLine =
    kind === 'ndjson'
      ? (line: string) => (line.trim() === '' ? line : maskJsonText(line, masker))
      : (line: string) => masker.text(line)
  const body = res.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(lineTransform(perLine, options.maxBufferBytes))
    .pipeThrough(new TextEncoderStream())
  return rebuild(new Response(body, init), res)
}

/** JSON masked by path and detectors; a body that claims JSON but does not parse is masked as text. */
function maskJsonText(text: string, masker: Masker): string {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return masker.text(text)
  }
  return JSON.stringify(masker.json(value))
}

async function readCapped(res: Response, max: number): Promise<string> {
  const reader = res.body!.getReader()
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
        `a JSON response exceeds maxBufferBytes (${max}); it cannot be masked`,
      )
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** A constructed Response has an empty `url`; keep the one the caller would have seen. */
export function rebuild(res: Response, from: Response): Response {
  return withUrl(res, from.url, from.redirected)
}

export function withUrl(res: Response, url: string, redirected: boolean): Response {
  if (res.url !== url) Object.defineProperty(res, 'url', { value: url, enumerable: false })
  if (res.redirected !== redirected)
    Object.defineProperty(res, 'redirected', { value: redirected, enumerable: false })
  return res
}
