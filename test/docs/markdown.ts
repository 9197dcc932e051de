// Reading the repository's markdown as GitHub renders it: which files there are, their relative
// links, their headings' anchors, and their fenced code blocks. Shared by the docs tests.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../../', import.meta.url))

const SKIP_DIRS = new Set(['node_modules', 'dist', '.git'])

/** Every *.md file of the repository outside node_modules, dist and .git, as repo-relative paths. */
export function markdownFiles(dir = ROOT): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) out.push(...markdownFiles(join(dir, entry.name)))
    } else if (entry.name.endsWith('.md')) out.push(relative(ROOT, join(dir, entry.name)))
  }
  return out.sort()
}

export interface CodeBlock {
  readonly lang: string
  readonly text: string
  readonly line: number
}

/** Fenced code blocks (``` or ~~~) in order, with their info string's first word. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = []
  const lines = markdown.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^\s{0,3}(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i] as string)
    if (!open) continue
    const fence = open[1] as string
    const body: string[] = []
    let j = i + 1
    for (; j < lines.length && !(lines[j] as string).trimStart().startsWith(fence); j++)
      body.push(lines[j] as string)
    blocks.push({ lang: open[2] ?? '', text: body.join('\n'), line: i + 1 })
    i = j
  }
  return blocks
}

/** The text outside fenced code blocks and inline code spans (links there are not links). */
function prose(markdown: string, keepCode = false): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = []
  let fence: string | null = null
  markdown.split('\n').forEach((line, i) => {
    const f = /^\s{0,3}(`{3,}|~{3,})/.exec(line)
    if (fence === null && f) fence = f[1] as string
    else if (fence !== null && line.trimStart().startsWith(fence)) fence = null
    else if (fence === null)
      out.push({
        text: keepCode ? line.replace(/`+/g, '') : line.replace(/(`+)(?:(?!\1).)+\1/g, ''),
        line: i + 1,
      })
  })
  return out
}

export interface Link {
  readonly target: string
  readonly line: number
}

/** Inline links and images `[x](target "title")`, reference definitions `[x]: target`, and `href="…"`. */
export function links(markdown: string): Link[] {
  const out: Link[] = []
  for (const { text, line } of prose(markdown)) {
    for (const m of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      out.push({ target: m[1] as string, line })
    const def = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(text)
    if (def) out.push({ target: def[1] as string, line })
    for (const m of text.matchAll(/\bhref="([^"]+)"/g)) out.push({ target: m[1] as string, line })
  }
  return out
}

/** The anchors GitHub gives a file's headings (github-slugger: lower case, punctuation dropped, spaces to '-', repeats numbered). */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>()
  const out = new Set<string>()
  for (const { text } of prose(markdown, true)) {
    const h = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(text)
    if (!h) continue
    const plain = (h[1] as string).replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, '')
    const base = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\p{Pc} -]/gu, '')
      .replace(/ /g, '-')
    const n = seen.get(base) ?? 0
    seen.set(base, n + 1)
    out.add(n === 0 ? base : `${base}-${n}`)
  }
  for (const m of markdown.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) out.add(m[1] as string)
  return out
}

export function read(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8')
}
