// How a response body can be masked, from its media type.
export type ContentKind = 'json' | 'ndjson' | 'text' | 'binary'

const TEXT_TYPES = new Set([
  'application/xml',
  'application/javascript',
  'application/ecmascript',
  'application/x-www-form-urlencoded',
  'application/yaml',
  'application/x-yaml',
  'application/graphql',
  'application/sql',
  'application/csv',
])
const NDJSON_TYPES = new Set([
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/json-seq',
  'application/stream+json',
  'application/jsonlines',
])

export function contentKind(contentType: string | null): ContentKind {
  // No type: the body could be anything, so treat it as text (masked line by line) rather than trust it.
  if (contentType === null || contentType.trim() === '') return 'text'
  const media = contentType.split(';')[0]!.trim().toLowerCase()
  if (NDJSON_TYPES.has(media)) return 'ndjson'
  if (media === 'application/json' || media.endsWith('+json') || media === 'text/json') return 'json'
  if (media.startsWith('text/') || TEXT_TYPES.has(media) || media.endsWith('+xml')) return 'text'
  return 'binary'
}
