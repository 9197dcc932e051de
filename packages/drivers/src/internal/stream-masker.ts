// One masker for text that arrives as a stream (ssh output, fetch text bodies, kube logs and exec).
// Masking line by line misses what spans lines: a PEM private key (its base64 body is no secret
// shape line by line, and `fold -w10` even splits the BEGIN line), a pretty-printed JSON document
// whose key and value sit on different lines, and a value that a terminal escape (grep --color)
// cuts in two. So:
//  - Complete lines are held in a look-behind window of a few characters, long enough to see a
//    `-----BEGIN` split over lines; a private-key PEM block is held until its END line and replaced
//    whole; at the cap (END never came) it fails closed: what was held is redacted and every line
//    after it is dropped until an END line or the end of the stream.
//  - A line that opens a JSON object or array (`{`, `[{`, `["`…) without closing it starts a block
//    held until its brackets balance, then masked as JSON (by key path and detector); past the cap
//    the same fail-closed rule applies.
//  - Detection reads each line with terminal escape sequences (SGR colours, cursor and OSC
//    sequences) removed; a line where nothing was masked is emitted exactly as received, escapes
//    included, and one where something was is emitted as its masked visible text.
// Memory is bounded by `maxHeldChars`; every step is linear in the text it sees.
import { WardenError } from '@warden/policy'

/** What the stream masker needs of a command's masker (`@warden/core`'s Masker has both). */
export interface TextMasker {
  text(value: string): string
  json(value: unknown): unknown
}

export interface StreamMaskerOptions {
  /** Characters held at most (a partial line, a PEM block, a JSON block). */
  readonly maxHeldChars: number
  /**
   * Past the cap: `error` throws ERR_WARDEN_MASKING (the stream fails); `redact` replaces what was
   * held and drops the rest of the line or block (the stream goes on).
   */
  readonly overflow: 'error' | 'redact'
}

export const REDACTED = '[redacted]'
// ESC [ … final (CSI, including SGR), ESC ] … BEL or ESC \ (OSC), and two-character ESC sequences.
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes are control characters
const ESCAPES = /\x1b\[[0-?]{0,64}[ -/]{0,8}[@-~]|\x1b\][^\x07\x1b]{0,4096}(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g
const BEGIN = '-----BEGIN'
const PEM_HEADER = /-----BEGIN ([A-Z0-9 ]{1,60})-----/
const PEM_END = /-----END [A-Z0-9 ]{1,60}-----/
/** Characters of visible text kept after a line before it may be released (BEGIN is 10 long). */
const LOOK_BEHIND = 80
const JSON_OPEN = /^\s*(?:[{[]\s*$|\{\s*"|\[\s*[{["\d-])/

type Line = { readonly raw: string; readonly ending: string; readonly visible: string }

/** The length of the longest end of `text` that is a proper beginning of BEGIN (0: none). */
function beginPrefix(text: string): number {
  for (let k = Math.min(BEGIN.length - 1, text.length); k > 0; k--)
    if (text.endsWith(BEGIN.slice(0, k))) return k
  return 0
}

export function visibleText(raw: string): string {
  return raw.includes('\x1b') ? raw.replace(ESCAPES, '') : raw
}

export class StreamMasker {
  readonly #masker: TextMasker
  readonly #options: StreamMaskerOptions
  #partial = ''
  /** The partial line overflowed: its rest, up to the next line end, is dropped. */
  #dropToEol = false
  /** Complete lines not yet released (look-behind, or a block being collected). */
  #held: Line[] = []
  #heldChars = 0
  #mode: 'lines' | 'pem' | 'json' | 'drop-pem' | 'drop-json' = 'lines'
  /** For PEM blocks: the last visible characters (the END line may be split too). */
  #tail = ''
  /** For JSON blocks: bracket depth and whether the scan is inside a string. */
  #depth = 0
  #inString = false
  #escaped = false

  constructor(masker: TextMasker, options: StreamMaskerOptions) {
    if (!Number.isInteger(options.maxHeldChars) || options.maxHeldChars < LOOK_BEHIND * 2)
      throw new TypeError(`StreamMasker: "maxHeldChars" must be an integer ≥ ${LOOK_BEHIND * 2}`)
    this.#masker = masker
    this.#options = options
  }

  /** Masked text ready to emit for `chunk` (may be empty: lines are held). */
  push(chunk: string): string {
    let out = ''
    let text = this.#partial + chunk
    let start = 0
    if (this.#dropToEol) {
      const nl = text.indexOf('\n')
      if (nl === -1) return ''
      this.#dropToEol = false
      start = nl + 1
    }
    for (let nl = text.indexOf('\n', start); nl !== -1; nl = text.indexOf('\n', start)) {
      const cr = nl > start && text.charCodeAt(nl - 1) === 13
      const raw = text.slice(start, cr ? nl - 1 : nl)
      out += this.#line({ raw, ending: cr ? '\r\n' : '\n', visible: visibleText(raw) })
      start = nl + 1
    }
    text = text.slice(start)
    if (text.length + this.#heldChars > this.#options.maxHeldChars) {
      if (this.#mode === 'lines') out += this.#releaseAll()
      out += this.#overflow()
      // The rest of an overlong line is dropped up to its end: it is no longer line-shaped.
      this.#partial = ''
      this.#dropToEol = true
      return out
    }
    this.#partial = text
    return out
  }

  /** Everything held, masked, at the end of the stream (an unterminated block fails closed). */
  end(): string {
    let out = ''
    if (this.#partial !== '') {
      const raw = this.#partial
      this.#partial = ''
      out += this.#line({ raw, ending: '', visible: visibleText(raw) })
    }
    if (this.#mode === 'pem' || this.#mode === 'drop-pem') {
      if (this.#mode === 'pem') this.#count()
      out += this.#mode === 'pem' ? this.#pemPrefix() + REDACTED : ''
      this.#reset()
      return out
    }
    // An unterminated JSON block is masked as one text, like one that does not parse.
    if (this.#mode === 'json') return out + this.#closeJson()
    if (this.#mode === 'drop-json') this.#reset()
    return out + this.#releaseAll()
  }

  /**
   * For interactive sessions: emit a held partial line (a prompt) now. Lines inside a PEM or JSON
   * block stay held.
   */
  flushPartial(): string {
    if (this.#mode !== 'lines') return ''
    let out = this.#releaseAll()
    if (this.#partial !== '') {
      out += this.#emit({ raw: this.#partial, ending: '', visible: visibleText(this.#partial) })
      this.#partial = ''
    }
    return out
  }

  #line(line: Line): string {
    switch (this.#mode) {
      case 'drop-pem':
        this.#tail = (this.#tail + line.visible).slice(-LOOK_BEHIND)
        if (PEM_END.test(this.#tail)) this.#reset()
        return ''
      case 'drop-json':
        this.#scanJson(line.visible)
        if (this.#depth <= 0) this.#reset()
        return ''
      case 'pem':
        this.#hold(line)
        this.#tail = (this.#tail + line.visible).slice(-LOOK_BEHIND)
        if (PEM_END.test(this.#tail)) return this.#closePem()
        return this.#heldChars > this.#options.maxHeldChars ? this.#overflow() : ''
      case 'json':
        this.#hold(line)
        this.#scanJson(line.visible)
        if (this.#depth <= 0) return this.#closeJson()
        return this.#heldChars > this.#options.maxHeldChars ? this.#overflow() : ''
      case 'lines':
        return this.#plainLine(line)
    }
  }

  #plainLine(line: Line): string {
    let out = ''
    // A JSON block starts on a line of its own; release what came before it first.
    if (JSON_OPEN.test(line.visible) && (this.#held.length === 0 || !this.#pemCandidate())) {
      this.#depth = 0
      this.#inString = false
      this.#escaped = false
      this.#scanJson(line.visible)
      out += this.#releaseAll()
      this.#mode = 'json'
      this.#hold(line)
      // A document on one line is masked as JSON now; an open one is collected.
      return this.#depth > 0 ? out : out + this.#closeJson()
    }
    this.#hold(line)
    const joined = this.#held.map((l) => l.visible).join('')
    const at = joined.indexOf(BEGIN)
    if (at !== -1) {
      const header = PEM_HEADER.exec(joined.slice(at))
      if (header !== null) {
        if (header[1].includes('PRIVATE KEY')) {
          // Release the lines before the one the marker starts in; hold the block from there.
          out += this.#releaseBefore(at)
          this.#mode = 'pem'
          this.#tail = joined.slice(at + header.index + header[0].length).slice(-LOOK_BEHIND)
          if (PEM_END.test(this.#tail)) return out + this.#closePem()
          return out
        }
        // Not a private key (a certificate, a public key): an ordinary line.
        return out + this.#releaseAll()
      }
      // The header is still arriving; hold it (bounded: a header longer than this is no header).
      if (joined.length - at <= LOOK_BEHIND) return out
      return out + this.#releaseAll()
    }
    return out + this.#releaseWhileSafe()
  }

  /** Whether the held lines end in something that may still become `-----BEGIN …`. */
  #pemCandidate(): boolean {
    return beginPrefix(this.#held.map((l) => l.visible).join('')) > 0
  }

  /**
   * Releases every held line except those a `-----BEGIN` could still be starting in: the ones
   * covering the longest end of the visible text that is a beginning of the marker ("--", "-----BE").
   * A line is otherwise emitted as soon as it is complete.
   */
  #releaseWhileSafe(): string {
    const joined = this.#held.map((l) => l.visible).join('')
    const k = beginPrefix(joined)
    return k === 0 ? this.#releaseAll() : this.#releaseBefore(joined.length - k)
  }

  /** Releases the held lines before the one in which visible offset `at` (of the joined text) falls. */
  #releaseBefore(at: number): string {
    let out = ''
    let offset = 0
    while (this.#held.length > 0 && offset + this.#held[0].visible.length <= at) {
      offset += this.#held[0].visible.length
      out += this.#shift()
    }
    return out
  }

  #releaseAll(): string {
    let out = ''
    while (this.#held.length > 0) out += this.#shift()
    return out
  }

  #shift(): string {
    const line = this.#held.shift() as Line
    this.#heldChars -= line.raw.length
    return this.#emit(line)
  }

  #hold(line: Line): void {
    this.#held.push(line)
    this.#heldChars += line.raw.length
  }

  /** One line through the masker, on its visible text; unchanged lines keep their escapes. */
  #emit(line: Line): string {
    if (line.visible === '') return line.raw + line.ending
    const masked = this.#masker.text(line.visible)
    return (masked === line.visible ? line.raw : masked) + line.ending
  }

  /** Text before the BEGIN marker on the block's first line, when the marker is whole on it. */
  #pemPrefix(): string {
    const first = this.#held[0]
    if (first === undefined) return ''
    const at = first.visible.indexOf(BEGIN)
    return at > 0 ? this.#masker.text(first.visible.slice(0, at)) : ''
  }

  /**
   * Hands the block to the masker in canonical PEM form, only so that its report counts it (the
   * private_key detector cannot read a header split over lines); the output is REDACTED whatever it
   * returns.
   */
  #count(): void {
    const joined = this.#held.map((l) => l.visible).join('')
    this.#masker.text(joined.replace(/-----(?:BEGIN|END) [A-Z0-9 ]{1,60}-----/g, '\n$&\n'))
  }

  #closePem(): string {
    this.#count()
    const last = this.#held.at(-1) as Line
    const end = PEM_END.exec(last.visible)
    const suffix = end === null ? '' : last.visible.slice(end.index + end[0].length)
    const out = this.#pemPrefix() + REDACTED + (suffix === '' ? '' : this.#masker.text(suffix)) + last.ending
    this.#reset()
    return out
  }

  #closeJson(): string {
    const lines = this.#held
    this.#reset()
    const visible = lines.map((l) => l.visible + l.ending).join('')
    let parsed: unknown
    try {
      parsed = JSON.parse(visible)
    } catch {
      // Not JSON after all: the block is masked as one text (detectors across its lines).
      const raw = lines.map((l) => l.raw + l.ending).join('')
      const masked = this.#masker.text(visible)
      return masked === visible ? raw : masked
    }
    const masked = this.#masker.json(parsed)
    if (JSON.stringify(masked) === JSON.stringify(parsed)) {
      let out = ''
      for (const l of lines) out += this.#emit(l)
      return out
    }
    const indent = /^\s+/.exec(lines[1]?.visible ?? '')?.[0] ?? ''
    const ending = lines.at(-1)?.ending ?? ''
    return this.#masker.text(JSON.stringify(masked, null, indent === '' ? undefined : indent)) + ending
  }

  #scanJson(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false
        else if (c === 92) this.#escaped = true
        else if (c === 34) this.#inString = false
      } else if (c === 34) this.#inString = true
      else if (c === 123 || c === 91) this.#depth++
      else if (c === 125 || c === 93) {
        this.#depth--
        if (this.#depth <= 0) return
      }
    }
  }

  /** The cap was reached: fail, or redact what is held and drop the rest of the line or block. */
  #overflow(): string {
    if (this.#options.overflow === 'error')
      throw new WardenError(
        'ERR_WARDEN_MASKING',
        `streamed text held for masking exceeds ${this.#options.maxHeldChars} characters (an unterminated line, PEM block or JSON document); it cannot be masked`,
      )
    const mode = this.#mode
    if (mode === 'pem') this.#count()
    const prefix = mode === 'pem' ? this.#pemPrefix() : ''
    this.#held = []
    this.#heldChars = 0
    if (mode === 'pem') this.#mode = 'drop-pem'
    else if (mode === 'json') this.#mode = 'drop-json'
    return `${prefix}${REDACTED}\n`
  }

  #reset(): void {
    this.#held = []
    this.#heldChars = 0
    this.#mode = 'lines'
    this.#tail = ''
    this.#depth = 0
    this.#inString = false
    this.#escaped = false
  }
}
