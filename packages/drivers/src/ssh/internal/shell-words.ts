// Turns tree-sitter-bash word nodes into the literal strings bash would pass as argv (quote removal),
// or null when a word holds an expansion whose value only exists at run time.
import type { Node } from 'web-tree-sitter'

export interface ShellWord {
  /** The word as written. */
  readonly text: string
  /** The word after quote removal, or null when it holds an expansion ($x, $(…), `…`, $((…)), <(…)). */
  readonly value: string | null
  /** Holds unquoted glob or brace characters, so bash may turn it into other words. */
  readonly pattern: boolean
}

export function shellWord(node: Node): ShellWord {
  const text = node.text
  switch (node.type) {
    case 'word':
      return { text, value: unescapeUnquoted(text), pattern: hasUnquotedPattern(text) }
    case 'number':
      return { text, value: text, pattern: false }
    case 'raw_string':
      return { text, value: text.slice(1, -1), pattern: false }
    case 'ansi_c_string':
      return { text, value: decodeAnsiC(text.slice(2, -1)), pattern: false }
    case 'string':
      return { text, value: doubleQuoted(node), pattern: false }
    case 'translated_string': {
      const inner = node.namedChild(0)
      return { text, value: inner?.type === 'string' ? doubleQuoted(inner) : null, pattern: false }
    }
    case 'concatenation': {
      let value: string | null = ''
      let pattern = false
      for (const part of node.children) {
        if (!part) continue
        const w = shellWord(part)
        pattern ||= w.pattern
        value = value === null || w.value === null ? null : value + w.value
      }
      return { text, value, pattern }
    }
    default:
      return { text, value: null, pattern: false }
  }
}

function doubleQuoted(node: Node): string | null {
  let out = ''
  for (const child of node.children) {
    if (!child) continue
    if (!child.isNamed) continue // the quotes
    if (child.type !== 'string_content') return null
    out += child.text.replace(/\\([$`"\\\n])/g, (_, c: string) => (c === '\n' ? '' : c))
  }
  return out
}

function unescapeUnquoted(text: string): string {
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\\' && i + 1 < text.length) {
      i++
      if (text[i] !== '\n') out += text[i]
    } else out += c
  }
  return out
}

function hasUnquotedPattern(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '\\') i++
    else if (c === '*' || c === '?' || c === '[' || c === '{' || c === '}') return true
  }
  return false
}

const SIMPLE_ESCAPES: Record<string, string> = {
  a: '\x07',
  b: '\b',
  e: '\x1b',
  E: '\x1b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  "'": "'",
  '"': '"',
  '?': '?',
}

/** Decodes the body of `$'…'` as bash does. */
export function decodeAnsiC(body: string): string {
  let out = ''
  for (let i = 0; i < body.length; i++) {
    const c = body[i]
    if (c !== '\\' || i + 1 >= body.length) {
      out += c
      continue
    }
    const e = body[++i]
    const simple = SIMPLE_ESCAPES[e]
    if (simple !== undefined) {
      out += simple
      continue
    }
    const take = (re: RegExp, max: number): string => {
      let digits = ''
      while (digits.length < max && i + 1 < body.length && re.test(body[i + 1])) digits += body[++i]
      return digits
    }
    if (e >= '0' && e <= '7') {
      i--
      const digits = take(/[0-7]/, 3)
      out += String.fromCharCode(Number.parseInt(digits, 8) & 0xff)
    } else if (e === 'x') {
      const digits = take(/[0-9a-fA-F]/, 2)
      out += digits ? String.fromCharCode(Number.parseInt(digits, 16)) : '\\x'
    } else if (e === 'u' || e === 'U') {
      const digits = take(/[0-9a-fA-F]/, e === 'u' ? 4 : 8)
      out += digits ? String.fromCodePoint(Number.parseInt(digits, 16)) : `\\${e}`
    } else if (e === 'c' && i + 1 < body.length) {
      out += String.fromCharCode(body[++i].toUpperCase().charCodeAt(0) & 0x1f)
    } else out += `\\${e}`
  }
  return out
}
