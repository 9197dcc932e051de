// Which response encodings the kube driver can hand out for a request. Secret masking and policy key-path
// masks work on decoded JSON only; YAML, protobuf and CBOR (the API server's other object encodings) would
// carry Secret values past both, so requests that may return such objects must be JSON both ways.
import type { KubeFacts } from '@warden/policy'

/**
 * What a request's response may be:
 * - `json`: API objects that may be Secrets (or need key-path masks): only JSON is handed out;
 * - `text`: workload content from a proxy: anything but an API server object encoding, masked as text;
 * - `any`: not API objects (discovery, /version, container logs): non-JSON is masked as text.
 */
export type ResponseNeed =
  | { readonly kind: 'json'; readonly why: string }
  | { readonly kind: 'text'; readonly why: string }
  | { readonly kind: 'any' }

export function responseNeed(facts: KubeFacts, masked: boolean): ResponseNeed {
  if (facts.resource === '' || facts.subresource === 'log') return { kind: 'any' }
  if (facts.subresource === 'proxy')
    return {
      kind: 'text',
      why: 'a proxied service (the API server itself included) can answer with Secrets in it',
    }
  // Core resources other than secrets never hold Secret objects; any other API group (CRDs, aggregated
  // APIs) may serve any kind, so it cannot be ruled out.
  if (facts.resource === 'secrets' || facts.group !== '')
    return { kind: 'json', why: `${facts.resource} responses may hold Secret values, masked only in JSON` }
  if (masked) return { kind: 'json', why: 'policy masks apply to it by key path, which needs JSON' }
  return { kind: 'any' }
}

/** The media type without parameters, lower-cased (`application/json;as=Table` → `application/json`). */
export function mediaType(value: string | null | undefined): string {
  return (value ?? '').split(';')[0]!.trim().toLowerCase()
}

export function isJsonMediaType(contentType: string | null | undefined): boolean {
  const t = mediaType(contentType)
  return t === 'application/json' || t.endsWith('+json')
}

/** YAML, protobuf, CBOR: the encodings an API server serializes objects (Secrets included) in besides JSON. */
export function isObjectEncoding(contentType: string | null | undefined): boolean {
  return /yaml|protobuf|cbor/.test(mediaType(contentType))
}

/** The Accept entries a server may pick (q > 0), as media types. */
function accepted(accept: string | null): string[] {
  if (accept === null || accept.trim() === '') return []
  const out: string[] = []
  for (const entry of accept.split(',')) {
    const q = /;\s*q\s*=\s*([0-9.]+)/i.exec(entry)
    if (q && Number(q[1]) === 0) continue
    const t = mediaType(entry)
    if (t !== '') out.push(t)
  }
  return out
}

/**
 * Why the request must not be sent with this Accept header, or undefined when it may. Checked before the
 * request goes out, so a write whose response could not be masked is never performed.
 */
export function acceptRefusal(need: ResponseNeed, accept: string | null): string | undefined {
  if (need.kind === 'any') return undefined
  for (const t of accepted(accept)) {
    // A wildcard lets the API server pick, and it picks JSON first (the response is checked again).
    const json = t === 'application/json' || t.endsWith('+json') || t === '*/*' || t === 'application/*'
    if (need.kind === 'json' ? !json : isObjectEncoding(t)) return `it asks for ${t}: ${need.why}`
  }
  return undefined
}

/** Why a non-JSON response must not be handed out, or undefined when masking it as text is enough. */
export function responseRefusal(
  need: ResponseNeed,
  contentType: string | null | undefined,
  status: number,
): string | undefined {
  if (need.kind === 'any' || isJsonMediaType(contentType)) return undefined
  const type = mediaType(contentType) || 'no content type'
  if (isObjectEncoding(contentType)) return `it answered ${type}: ${need.why}`
  if (need.kind === 'text') return undefined
  // The API server's own plain-text error pages (`404 page not found`) carry no objects.
  if (status >= 400) return undefined
  return `it answered ${type}: ${need.why}`
}
