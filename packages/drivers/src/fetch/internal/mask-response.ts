// Masks a fetch Response body with the command's masker before the caller can read it.
import type { Masker } from '@warden/core'
import { WardenError } from '@warden/policy'
import { readCapped } from '../../internal/read-capped.js'
import { scrubBytes } from '../../internal/scrub-bytes.js'
import { maskTextStream } from '../../internal/stream-masker-streams.js'
import { contentKind } from './content-kind.js'
import { lineTransform } from './line-transform.js'

export interface MaskResponseOptions {
  /** JSON bodies are buffered to be masked as a whole; larger ones fail closed. */
  readonly maxBufferBytes: number
  /** What to do with a body that is neither JSON nor text when masks apply. */
  readonly binaryBodies: 'deny' | 'pass'
  /** Replaces credential values the driver injected (an echoing server must not hand them back). */
  readonly scrub?: (text: string) => string
  /** The same values, for bodies scrubbed as bytes (binary ones). Required with `scrub`. */
  readonly scrubNeedles?: readonly string[]
}

/** Masks `res` (JSON by path and detectors, NDJSON per line, text per line) and returns a new Response. */
export async function maskResponse(
  res: Response,
  policyMasker: Masker | null,
  options: MaskResponseOptions,
): Promise<Response> {
  const scrub = options.scrub ?? ((t: string) => t)
  // Only the injected-credential scrub applies when the policy masks nothing.
  const masker: Masker = policyMasker
    ? {
        plan: (c) => policyMasker.plan(c),
        text: (t) => scrub(policyMasker.text(t)),
        json: (v) => policyMasker.json(v),
      }
    : {
        plan: () => ({ applyObject: (r: never) => r, applyArray: (r: never) => r }) as never,
        text: scrub,
        json: (v) => v,
      }
  const kind = contentKind(res.headers.get('content-type'))
  if (res.body === null) {
    // No body to rewrite: the headers still are.
    if (options.scrub === undefined) return res
    const headers = scrubHeaders(res.headers, scrub)
    if (headers === res.headers) return res
    return rebuild(new Response(res.body, { status: res.status, statusText: res.statusText, headers }), res)
  }
  if (kind === 'binary' && policyMasker !== null && options.binaryBodies === 'deny') {
    await res.body.cancel().catch(() => {})
    throw new WardenError(
      'ERR_WARDEN_MASKING',
      `masks apply to this request but the response is ${res.headers.get('content-type')}, which cannot be masked; pass binaryBodies: 'pass' to createFetch to let such bodies through unmasked`,
    )
  }
  const headers = new Headers(scrubHeaders(res.headers, scrub))
  // The body we hand out is decoded and rewritten: its length and encoding changed.
  headers.delete('content-length')
  headers.delete('content-encoding')
  const init = { status: res.status, statusText: res.statusText, headers }
  if (kind === 'binary') {
    // Policy masks cannot read it (passed on request), but an echoed credential is still found as
    // bytes, whatever the body is, and streamed.
    if (options.scrub === undefined) return res
    if (options.scrubNeedles === undefined)
      throw new WardenError('ERR_WARDEN_MASKING', 'internal: a binary body to scrub without its needles')
    return rebuild(new Response(res.body.pipeThrough(scrubBytes(options.scrubNeedles)), init), res)
  }
  if (kind === 'json') {
    const text = await readCapped(res, options.maxBufferBytes, 'a JSON response')
    return rebuild(new Response(text === '' ? '' : maskJsonText(text, masker), init), res)
  }
  // NDJSON is one document per line; other text is masked as a stream (PEM blocks, multi-line
  // JSON, terminal escapes: internal/stream-masker.ts), failing the body past the buffer cap.
  const masking =
    kind === 'ndjson'
      ? lineTransform(
          (line: string) => (line.trim() === '' ? line : maskJsonText(line, masker)),
          options.maxBufferBytes,
        )
      : maskTextStream(masker, { maxHeldChars: Math.max(options.maxBufferBytes, 1024), overflow: 'error' })
  const body = res.body
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(masking)
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
  // Scrubbed after serialising: the credential is found in the exact text the caller would parse.
  return masker.text(JSON.stringify(masker.json(value)))
}

function scrubHeaders(headers: Headers, scrub: (t: string) => string): Headers {
  let out: Headers | undefined
  for (const [name, value] of headers) {
    const clean = scrub(value)
    if (clean === value) continue
    out ??= new Headers(headers)
    out.set(name, clean)
  }
  return out ?? headers
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
