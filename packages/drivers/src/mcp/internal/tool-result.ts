// CallToolResult shapes the MCP guards share: JSON text content is masked as JSON (so column masks
// like `email` apply inside it), and a refusal becomes an error result the model can read.
import type { ToolRefusal } from '@warden/core'

interface ContentItem {
  readonly type: string
  readonly text?: unknown
  readonly [key: string]: unknown
}
/**
 * Marks a text item whose text was JSON and now carries the parsed value in `text` through the
 * masker (so audit paths read `content.text.email`), turned back into text after.
 */
const JSON_KEY = 'wardenJsonText'

/** Replaces text content that is a JSON object or array by its parsed value, for masking. */
export function unpackJsonText<T>(result: T): T {
  const content = (result as { content?: unknown } | null)?.content
  if (!Array.isArray(content)) return result
  let changed = false
  const next = content.map((item: ContentItem) => {
    if (item?.type !== 'text' || typeof item.text !== 'string') return item
    const t = item.text.trimStart()
    if (!t.startsWith('{') && !t.startsWith('[')) return item
    try {
      const parsed: unknown = JSON.parse(item.text)
      changed = true
      return { ...item, text: parsed, [JSON_KEY]: true }
    } catch {
      return item
    }
  })
  return changed ? ({ ...result, content: next } as T) : result
}

/** Undoes unpackJsonText after masking: parsed values become JSON text again. */
export function packJsonText<T>(result: T): T {
  const content = (result as { content?: unknown } | null)?.content
  if (!Array.isArray(content)) return result
  return {
    ...result,
    content: content.map((item: ContentItem) => {
      if (item === null || typeof item !== 'object' || item[JSON_KEY] !== true) return item
      const { [JSON_KEY]: _marker, ...rest } = item
      return { ...rest, text: JSON.stringify(item.text) }
    }),
  } as T
}

/** A refusal as an MCP tool result: an error result whose text is the message for the model. */
export function refusalResult(refusal: ToolRefusal): {
  content: { type: 'text'; text: string }[]
  isError: true
  _meta: { 'warden/refusal': ToolRefusal }
} {
  return {
    content: [{ type: 'text', text: `${refusal.message} [${refusal.code}, rule ${refusal.rule}]` }],
    isError: true,
    _meta: { 'warden/refusal': { ...refusal } },
  }
}
