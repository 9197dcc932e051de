// Bash's input-layer rules, applied before tree-sitter-bash parses a line (issue 15). tree-sitter's
// grammar tokenizes differently from bash in ways that hide commands: it takes CR/VT/FF as blanks
// (bash: word characters), and it does not remove backslash-newline where bash's reader does
// (`ps\⏎ql` is `psql` to bash). This pass rewrites the text into one tree-sitter reads as bash does:
//  - `\`+newline is removed wherever bash removes it (not in '…', $'…', comments, quoted heredocs);
//  - backquote substitutions become `$(…)` with bash's backquote unescaping (`\\`, `` \` ``, `\$`), so
//    adjacent and nested backquotes are parsed as the commands they are;
//  - `$` before a character that starts no expansion is escaped (bash keeps it literal: `grep total$.`);
//  - a heredoc missing its delimiter at the end of the text gets one (bash reads to the end);
//  - a control character bash takes as a word character (< 0x20 but TAB/LF, and DEL) is refused
//    unless inside '…', "…" or $'…', where it is data; its position is returned for a second check.
// It is hand-written (no library implements bash's reader), so it is cross-checked: the result is
// parsed by tree-sitter and the original text by mvdan/sh, and their commands must agree.

export interface Prepared {
  /** The text for tree-sitter, or '' when `error` is set. */
  readonly text: string
  /** Offsets in `text` of control characters taken as quoted data (tree-sitter must agree). */
  readonly quotedControls: readonly number[]
  /** What was appended to close heredocs left open at the end ('' mostly); give the cross-check it too. */
  readonly closers: string
  readonly error: string
}

type Context = 'command' | 'arith' | 'double' | 'brace' | 'heredoc'

/** A control character bash reads as part of a word (TAB and LF are blanks/separators). */
export const isWordControl = (c: string): boolean => {
  const code = c.charCodeAt(0)
  return (code < 0x20 && c !== '\t' && c !== '\n') || code === 0x7f
}

/** After `$`, the characters that start an expansion (names, specials, positionals, ${, $(, $', $"). */
const EXPANDS = /[A-Za-z_0-9@*#?$!\-{('"[]/
const META = /[\s;&|<>()]/
const WORD_START_BEFORE = /[\s;&|()<>]/

class LexError extends Error {}

interface Heredoc {
  readonly delimiter: string
  readonly quoted: boolean
  readonly stripTabs: boolean
}

/** Deepest nesting of $(…), ${…}, backquotes and quotes read; deeper text is refused, not a stack overflow. */
const MAX_NESTING = 200

class Lexer {
  out = ''
  i = 0
  readonly controls: number[] = []
  pending: Heredoc[] = []
  closers = ''
  /** How deep this lexer's scans are nested, counting the lexers it was started from (backquotes). */
  #nesting: number
  constructor(
    readonly src: string,
    nesting = 0,
  ) {
    this.#nesting = nesting
  }

  run(): void {
    this.scan('command', '')
    if (this.pending.length > 0) {
      if (!this.out.endsWith('\n')) {
        this.out += '\n'
        this.closers += '\n'
      }
      this.heredocBodies()
    }
  }

  /** Whether the next character starts a word, judged on the rewritten text (after joins). */
  atWordStart(): boolean {
    return this.out === '' || WORD_START_BEFORE.test(this.out[this.out.length - 1])
  }

  control(c: string, quoted: boolean): void {
    if (!quoted)
      throw new LexError(
        `a control character (U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}) outside quotes: bash reads it as part of a word`,
      )
    this.controls.push(this.out.length)
  }

  /** Scans until `close` (a character, or '' for the end) in the given context; consumes `close`. */
  scan(ctx: Context, close: string): void {
    if (++this.#nesting > MAX_NESTING) throw new LexError(`nested more than ${MAX_NESTING} levels deep`)
    try {
      this.#scan(ctx, close)
    } finally {
      this.#nesting--
    }
  }

  #scan(ctx: Context, close: string): void {
    const src = this.src
    let depth = 0
    while (this.i < src.length) {
      const c = src[this.i]
      if (close && c === close && depth === 0) {
        this.i++
        this.out += c
        return
      }
      if (isWordControl(c)) {
        this.control(c, ctx === 'double')
        this.out += c
        this.i++
        continue
      }
      if (c === '\\') {
        this.escape(ctx)
        continue
      }
      if (c === '`') {
        this.backquote()
        continue
      }
      if (c === '$') {
        this.dollar(ctx)
        continue
      }
      if (ctx === 'double' || ctx === 'heredoc') {
        this.out += c
        this.i++
        continue
      }
      if (c === "'") {
        this.single()
        continue
      }
      if (c === '"') {
        this.out += c
        this.i++
        this.scan('double', '"')
        continue
      }
      if (ctx === 'command') {
        if (c === '#' && this.atWordStart()) {
          this.comment()
          continue
        }
        if (c === '(' && src[this.i + 1] === '(' && this.atWordStart()) {
          // `((…))` and `for ((…))`: arithmetic, where `<<` is a shift and `#` a base.
          this.out += '(('
          this.i += 2
          this.scan('arith', ')')
          if (src[this.i] !== ')') throw new LexError('unterminated ((…))')
          this.out += ')'
          this.i++
          continue
        }
        if (c === '<' && src[this.i + 1] === '<' && src[this.i + 2] !== '<') {
          this.heredocStart()
          continue
        }
        if (c === '<' && src.startsWith('<<<', this.i)) {
          this.out += '<<<'
          this.i += 3
          continue
        }
        if (c === '\n') {
          this.out += c
          this.i++
          if (this.pending.length > 0) this.heredocBodies()
          continue
        }
      }
      if (ctx === 'command' || ctx === 'arith') {
        if (c === '(') depth++
        else if (c === ')') depth--
      } else if (ctx === 'brace') {
        if (c === '{') depth++
        else if (c === '}') depth--
      }
      this.out += c
      this.i++
    }
    if (close) throw new LexError(`unterminated ${close === '"' ? 'double quote' : 'expansion'}`)
  }

  escape(ctx: Context): void {
    const next = this.src[this.i + 1]
    if (next === undefined) {
      // A backslash ending the text is a literal backslash to bash.
      this.out += '\\\\'
      this.i++
      return
    }
    if (next === '\n') {
      this.i += 2 // bash's reader drops backslash-newline here
      return
    }
    if (isWordControl(next)) this.control(next, ctx === 'double' || ctx === 'heredoc')
    this.out += `\\${next}`
    this.i += 2
  }

  single(): void {
    const end = this.src.indexOf("'", this.i + 1)
    if (end < 0) throw new LexError('unterminated single quote')
    this.quoted(this.i, end + 1)
  }

  /** Copies src[from, to) as quoted data (control characters allowed) and moves past it. */
  quoted(from: number, to: number): void {
    for (let k = from; k < to; k++) {
      if (isWordControl(this.src[k])) this.controls.push(this.out.length)
      this.out += this.src[k]
    }
    this.i = to
  }

  dollar(ctx: Context): void {
    const src = this.src
    const next = src[this.i + 1]
    if (next === "'" && ctx !== 'double' && ctx !== 'heredoc') {
      let k = this.i + 2
      while (k < src.length && src[k] !== "'") k += src[k] === '\\' ? 2 : 1
      if (k >= src.length) throw new LexError("unterminated $'…' string")
      this.quoted(this.i, k + 1)
      return
    }
    if (next === '(') {
      const arith = src[this.i + 2] === '('
      this.out += arith ? '$((' : '$('
      this.i += arith ? 3 : 2
      if (arith) {
        this.scan('arith', ')')
        if (src[this.i] !== ')') throw new LexError('unterminated $((…))')
        this.out += ')'
        this.i++
      } else this.scan('command', ')')
      return
    }
    if (next === '{') {
      this.out += '${'
      this.i += 2
      this.scan('brace', '}')
      return
    }
    if (next !== undefined && /[$@*#?!\-0-9]/.test(next)) {
      this.out += `$${next}` // a special parameter: `$$` is one expansion, not `$` before `$`
      this.i += 2
      return
    }
    if (next === undefined || !EXPANDS.test(next) || (next === '"' && ctx === 'double')) {
      this.out += '\\$'
      this.i++
      return
    }
    this.out += '$'
    this.i++
  }

  /** `…` → $(…): bash unescapes \\ \` \$ inside, then parses the result as a script of its own. */
  backquote(): void {
    const src = this.src
    let inner = ''
    let k = this.i + 1
    for (; k < src.length && src[k] !== '`'; k++) {
      if (src[k] === '\\' && k + 1 < src.length) {
        const e = src[++k]
        inner += e === '\\' || e === '`' || e === '$' ? e : `\\${e}`
      } else inner += src[k]
    }
    if (k >= src.length) throw new LexError('unterminated backquote')
    const nested = new Lexer(inner, this.#nesting)
    nested.run()
    for (const at of nested.controls) this.controls.push(this.out.length + 2 + at)
    // A newline before `)` only when a comment could swallow it (tree-sitter misreads `$(…⏎)` in `${…}`).
    this.out += nested.out.includes('#') ? `$(${nested.out}\n)` : `$(${nested.out})`
    this.i = k + 1
  }

  comment(): void {
    const end = this.src.indexOf('\n', this.i)
    const stop = end < 0 ? this.src.length : end
    for (let k = this.i; k < stop; k++) if (isWordControl(this.src[k])) this.control(this.src[k], false)
    this.out += this.src.slice(this.i, stop)
    this.i = stop
  }

  heredocStart(): void {
    const src = this.src
    let k = this.i + 2
    const stripTabs = src[k] === '-'
    if (stripTabs) k++
    while (src[k] === ' ' || src[k] === '\t') k++
    let delimiter = ''
    let quoted = false
    while (k < src.length && !META.test(src[k])) {
      const c = src[k]
      if (c === "'" || c === '"') {
        const end = src.indexOf(c, k + 1)
        if (end < 0) throw new LexError('unterminated quote in a heredoc delimiter')
        delimiter += src.slice(k + 1, end)
        quoted = true
        k = end + 1
      } else if (c === '\\') {
        quoted = true
        delimiter += src[k + 1] ?? ''
        k += 2
      } else {
        if (isWordControl(c)) this.control(c, false)
        delimiter += c
        k++
      }
    }
    if (delimiter === '') throw new LexError('a heredoc without a delimiter')
    this.out += src.slice(this.i, k)
    this.i = k
    this.pending.push({ delimiter, quoted, stripTabs })
  }

  /** Reads the bodies of the pending heredocs, line by line as bash does, from `this.i`. */
  heredocBodies(): void {
    const docs = this.pending
    this.pending = []
    for (const doc of docs) {
      let body = ''
      let closed = false
      while (this.i < this.src.length) {
        let line = this.readLine(doc.quoted)
        const ended = line.endsWith('\n')
        if (ended) line = line.slice(0, -1)
        const bare = doc.stripTabs ? line.replace(/^\t+/, '') : line
        if (bare === doc.delimiter) {
          closed = true
          this.out += body
          this.out += `${line}${ended ? '\n' : ''}`
          break
        }
        body += `${line}${ended ? '\n' : ''}`
      }
      if (!closed) {
        // bash reads a heredoc to the end of the text (with a warning); tree-sitter needs the line.
        const closer = `${body === '' || body.endsWith('\n') ? '' : '\n'}${doc.delimiter}\n`
        this.out += body + closer
        this.closers += closer
      }
    }
  }

  /** One heredoc line; in an unquoted heredoc, backslash-newline joins lines first and the line's
   * expansions are rewritten like double-quoted text (backquotes become $(…)). */
  readLine(quoted: boolean): string {
    const src = this.src
    const start = this.i
    if (quoted) {
      const end = src.indexOf('\n', start)
      const stop = end < 0 ? src.length : end + 1
      for (let k = start; k < stop; k++)
        if (isWordControl(src[k])) throw new LexError('a control character in a heredoc body')
      this.i = stop
      return src.slice(start, stop)
    }
    const saved = this.out
    this.out = ''
    const outer = this.src
    // Scan to the end of the line in heredoc context (expansions may not span lines here).
    let end = start
    while (end < outer.length && outer[end] !== '\n') end += outer[end] === '\\' ? 2 : 1
    const lineEnd = Math.min(end + 1, outer.length)
    const sub = new Lexer(outer.slice(start, lineEnd), this.#nesting)
    sub.scan('heredoc', '')
    if (sub.controls.length > 0) throw new LexError('a control character in a heredoc body')
    this.i = lineEnd
    this.out = saved
    return sub.out
  }
}

/** Rewrites `text` so tree-sitter-bash reads it as bash would (see the file comment). */
export function prepareShellText(text: string): Prepared {
  const lexer = new Lexer(text)
  try {
    lexer.run()
  } catch (error) {
    if (error instanceof LexError) return { text: '', quotedControls: [], closers: '', error: error.message }
    throw error
  }
  return { text: lexer.out, quotedControls: lexer.controls, closers: lexer.closers, error: '' }
}
