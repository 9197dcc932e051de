// A small tokenizer of MySQL's lexical rules, independent of sqlparser-rs. It is not a classifier:
// it finds statement boundaries, executable comments and the leading words of each statement, so
// that two independent readings of the text must agree (parsers.md §5.3).
//
// Rules (MySQL 8 / MariaDB 10.11, default sql_mode; sql_mode changes are flagged `lexer_setting`):
// - '…' and "…" are strings with backslash escapes and doubled quotes; `…` identifiers double `` ` ``;
// - `#` comments and `-- ` comments (only when a space/control character or the end follows `--`);
// - `/* … */` comments do not nest; `/*!…*/` and `/*M!…*/` are *code* the server runs: rejected;
// - `;` outside all of those separates statements; empty statements do not count.

export interface LexResult {
  /** Non-empty statements, each as its tokens: bare words upper-cased, other tokens as one marker character. */
  readonly statements: readonly (readonly string[])[]
  /** Per statement, where each token is in the text: start and end offsets, two numbers a token. */
  readonly spans: readonly (readonly number[])[]
  /** Set when the text cannot be lexed or holds an executable comment. */
  readonly error:
    | ''
    | 'executable_comment'
    | 'unterminated_string'
    | 'unterminated_identifier'
    | 'unterminated_comment'
}

const SPACE = 1
const WORD = 2
const table = new Uint8Array(128)
for (const c of ' \t\n\r\f\v') table[c.charCodeAt(0)] = SPACE
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c)
  if (/[A-Za-z0-9_$]/.test(ch)) table[c] = WORD
}

function isSpaceOrControl(code: number): boolean {
  // MySQL's `--` comment needs my_isspace || my_iscntrl after it; end of input reads as NUL (a control).
  return Number.isNaN(code) || code <= 0x20 || code === 0x7f
}

function isWordChar(code: number): boolean {
  return code >= 128 || table[code] === WORD
}

export function lexMysql(text: string): LexResult {
  const statements: string[][] = []
  const spans: number[][] = []
  let current: string[] = []
  let span: number[] = []
  const n = text.length
  let i = 0
  const fail = (error: LexResult['error']): LexResult => ({ statements, spans, error })
  const token = (t: string, start: number, end: number) => {
    current.push(t)
    span.push(start, end)
  }
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c < 128 && table[c] === SPACE) {
      i++
      continue
    }
    switch (c) {
      case 0x23: {
        // '#' comment to end of line
        const end = text.indexOf('\n', i)
        i = end < 0 ? n : end + 1
        continue
      }
      case 0x2d: // '-'
        if (text.charCodeAt(i + 1) === 0x2d && isSpaceOrControl(text.charCodeAt(i + 2))) {
          const end = text.indexOf('\n', i)
          i = end < 0 ? n : end + 1
          continue
        }
        token('-', i, i + 1)
        i++
        continue
      case 0x2f: // '/'
        if (text.charCodeAt(i + 1) === 0x2a) {
          const next = text.charCodeAt(i + 2)
          if (next === 0x21) return fail('executable_comment') // /*!
          if ((next === 0x4d || next === 0x6d) && text.charCodeAt(i + 3) === 0x21)
            return fail('executable_comment') // /*M!
          const end = text.indexOf('*/', i + 2)
          if (end < 0) return fail('unterminated_comment')
          i = end + 2
          continue
        }
        token('/', i, i + 1)
        i++
        continue
      case 0x27: // '
      case 0x22: {
        // "
        let j = i + 1
        for (;;) {
          if (j >= n) return fail('unterminated_string')
          const d = text.charCodeAt(j)
          if (d === 0x5c) j += 2
          else if (d === c) {
            if (text.charCodeAt(j + 1) === c) j += 2
            else break
          } else j++
        }
        token("'", i, j + 1)
        i = j + 1
        continue
      }
      case 0x60: {
        // `
        let j = i + 1
        for (;;) {
          const end = text.indexOf('`', j)
          if (end < 0) return fail('unterminated_identifier')
          if (text.charCodeAt(end + 1) === 0x60) j = end + 2
          else {
            j = end
            break
          }
        }
        token('`', i, j + 1)
        i = j + 1
        continue
      }
      case 0x3b: // ;
        if (current.length > 0) {
          statements.push(current)
          spans.push(span)
        }
        current = []
        span = []
        i++
        continue
    }
    if (isWordChar(c)) {
      let j = i + 1
      while (j < n && isWordChar(text.charCodeAt(j))) j++
      token(text.slice(i, j).toUpperCase(), i, j)
      i = j
      continue
    }
    token(text[i] as string, i, i + 1)
    i++
  }
  if (current.length > 0) {
    statements.push(current)
    spans.push(span)
  }
  return { statements, spans, error: '' }
}
