// Masks a fetch Response body with the command's masker before the caller can read it.
import type { CommandStream, Masker } from '@warden/core'
import { WardenError } from '@warden/policy'
import { readCapped } from '../../internal/read-capped.js'
import { recordedBody } from '../../internal/recorded-stream.js'
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
  /** The command's stream (context.stream()): the body handed out ends the command when it ends. */
  readonly command?: CommandStream
}

/** Statuses whose Response cannot carry a body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304])

/** Whether `res` has a body to stream (and so a command that ends with it). */
export function hasBody(res: Response): boolean {
  return res.body !== null && !NULL_BODY.has(res.status)
}

/**
 * `res` with its body counted and ending its command (internal/recorded-stream.ts); without a
 * command stream or a body, `res` itself.
 */
export function recordResponse(res: Response, command: CommandStream | undefined): Response {
  if (command === undefined || res.body === null || !hasBody(res)) return res
  const init = { status: res.status, statusText: res.statusText, headers: res.headers }
  return rebuild(new Response(recordedBody(res.body, command), init), res)
}

/**
 * Masks `res` (JSON by path and detectors, NDJSON per line, text as a stream) and returns a new
 * Response; with `options.command`, its body ends the command when it ends.
 */
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
  const command = options.command
  if (res.body === null || !hasBody(res)) {
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
    if (options.scrub === undefined) return recordResponse(res, command)
    if (options.scrubNeedles === undefined)
      throw new WardenError('ERR_WARDEN_MASKING', 'internal: a binary body to scrub without its needles')
    const needles = options.scrubNeedles
    return rebuild(
      new Response(
        ended(res.body, command, (s) => s.pipeThrough(scrubBytes(needles))),
        init,
      ),
      res,
    )
  }
  if (kind === 'json') {
    // Buffered and masked whole; the command still ends when the caller has read it.
    const text = await readCapped(res, options.maxBufferBytes, 'a JSON response')
    return recordResponse(
      rebuild(new Response(text === '' ? '' : maskJsonText(text, masker), init), res),
      command,
    )
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
  const body = ended(res.body, command, (s) =>
    s.pipeThrough(new TextDecoderStream()).pipeThrough(masking).pipeThrough(new TextEncoderStream()),
  )
  return rebuild(new Response(body, init), res)
}

function ended(
  body: ReadableStream<Uint8Array>,
  command: CommandStream | undefined,
  through: (s: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array>,
): ReadableStream<Uint8Array> {
  return command === undefined ? through(body) : recordedBody(body, command, through)
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
