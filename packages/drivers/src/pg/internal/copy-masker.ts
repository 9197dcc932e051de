// Masks COPY ... TO STDOUT output (text or CSV format, default delimiters) row by row.
// pg-copy-streams reads COPY data off the socket itself, so the protocol hook never sees it; this
// sits on the stream's push() instead. Rows may span chunks (and CSV fields may span lines).
import type { MaskPlan } from '@warden/core'

export type CopyFormat = 'text' | 'csv'

/** Returns a function that takes raw COPY chunks (null at the end) and returns masked chunks. */
export function copyMasker(
  plan: MaskPlan,
  format: CopyFormat,
  header: boolean,
): (chunk: Buffer | null) => Buffer[] {
  let pending = ''
  let skipHeader = header
  const decoder = new TextDecoder('utf-8', { fatal: false })
  return (chunk) => {
    pending += chunk === null ? decoder.decode() : decoder.decode(chunk, { stream: true })
    const out: string[] = []
    for (;;) {
      const end = format === 'csv' ? csvRowEnd(pending) : pending.indexOf('\n')
      if (end < 0) break
      const line = pending.slice(0, end)
      pending = pending.slice(end + 1)
      if (skipHeader) {
        skipHeader = false
        out.push(`${line}\n`)
        continue
      }
      out.push(`${format === 'csv' ? maskCsv(line, plan) : maskText(line, plan)}\n`)
    }
    if (chunk === null && pending.length > 0) {
      out.push(format === 'csv' ? maskCsv(pending, plan) : maskText(pending, plan))
      pending = ''
    }
    return out.length === 0 ? [] : [Buffer.from(out.join(''), 'utf8')]
  }
}

// ---- text format: tab-separated, backslash escapes, \N is NULL

function maskText(line: string, plan: MaskPlan): string {
  const raw = line.split('\t')
  const values: unknown[] = raw.map(decodeText)
  const before = values.slice()
  plan.applyArray(values)
  for (let i = 0; i < raw.length; i++) {
    if (values[i] !== before[i]) raw[i] = encodeText(values[i])
  }
  return raw.join('\t')
}

function decodeText(field: string): string | null {
  if (field === '\\N') return null
  if (!field.includes('\\')) return field
  let out = ''
  for (let i = 0; i < field.length; i++) {
    const c = field[i]
    if (c !== '\\' || i + 1 >= field.length) {
      out += c
      continue
    }
    const n = field[++i]
    switch (n) {
      case 'b':
        out += '\b'
        break
      case 'f':
        out += '\f'
        break
      case 'n':
        out += '\n'
        break
      case 'r':
        out += '\r'
        break
      case 't':
        out += '\t'
        break
      case 'v':
        out += '\v'
        break
      case 'x': {
        let hex = ''
        while (hex.length < 2 && isHex(field[i + 1])) hex += field[++i]
        out += hex === '' ? 'x' : String.fromCharCode(Number.parseInt(hex, 16))
        break
      }
      default:
        if (n >= '0' && n <= '7') {
          let oct = n
          while (oct.length < 3 && field[i + 1] >= '0' && field[i + 1] <= '7') oct += field[++i]
          out += String.fromCharCode(Number.parseInt(oct, 8))
        } else out += n
    }
  }
  return out
}

function isHex(c: string | undefined): boolean {
  return c !== undefined && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))
}

function encodeText(value: unknown): string {
  if (value === null || value === undefined) return '\\N'
  return String(value).replace(/[\\\t\n\r]/g, (c) =>
    c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r',
  )
}

// ---- CSV format: comma, double quotes, unquoted empty is NULL

/** Index of the newline that ends the first CSV row (outside quotes), or -1. */
function csvRowEnd(text: string): number {
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '"') quoted = !quoted
    else if (c === '\n' && !quoted) return i
  }
  return -1
}

function maskCsv(line: string, plan: MaskPlan): string {
  const row = line.endsWith('\r') ? line.slice(0, -1) : line
  const raw: string[] = []
  const values: unknown[] = []
  let i = 0
  for (;;) {
    let value: string | null
    const start = i
    if (row[i] === '"') {
      let v = ''
      i++
      for (;;) {
        const q = row.indexOf('"', i)
        if (q < 0) {
          v += row.slice(i)
          i = row.length
          break
        }
        v += row.slice(i, q)
        if (row[q + 1] === '"') {
          v += '"'
          i = q + 2
        } else {
          i = q + 1
          break
        }
      }
      value = v
    } else {
      const comma = row.indexOf(',', i)
      const end = comma < 0 ? row.length : comma
      const v = row.slice(i, end)
      value = v === '' ? null : v
      i = end
    }
    raw.push(row.slice(start, i))
    values.push(value)
    if (row[i] === ',') {
      i++
      continue
    }
    break
  }
  const before = values.slice()
  plan.applyArray(values)
  for (let k = 0; k < raw.length; k++) {
    if (values[k] !== before[k]) raw[k] = encodeCsv(values[k])
  }
  return raw.join(',')
}

function encodeCsv(value: unknown): string {
  if (value === null || value === undefined) return ''
  const s = String(value)
  return s === '' || /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}
