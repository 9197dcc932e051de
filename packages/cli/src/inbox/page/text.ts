// The page's text helpers (browser JS, served as part of /inbox.js): how a value from the store is
// shown. Commands come from agents and applications, so every value is shown as text (never
// HTML) with invisible and direction-changing characters as visible markers, the same idea as
// the console approver's printable(): `orders\u202Eprod` must not read as "ordersdorp".
export const TEXT_JS = String.raw`
  // C0 and C1 controls (tab and newline are handled by the caller), soft hyphen, zero-width and
  // joiner characters, bidi marks, embeddings, overrides and isolates, line/paragraph separators,
  // invisible operators, fillers, the BOM, interlinear annotations and Unicode tag characters;
  // and spaces that are not U+0020 (no-break, en/em, ideographic…) and variation selectors, which a
  // parser may read differently from the server (a no-break space can end a comment for one of them).
  const HIDDEN = /([\u0000-\u0008\u000B-\u001F\u007F-\u009F\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u206F\u3000\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF9-\uFFFB]|[\u{E0000}-\u{E007F}\u{E0100}-\u{E01EF}])/u
  const NAMES = {
    0x202a: 'left-to-right embedding', 0x202b: 'right-to-left embedding', 0x202c: 'pop directional formatting',
    0x202d: 'left-to-right override', 0x202e: 'right-to-left override (reverses the text after it)',
    0x2066: 'left-to-right isolate', 0x2067: 'right-to-left isolate', 0x2068: 'first strong isolate',
    0x2069: 'pop directional isolate', 0x200e: 'left-to-right mark', 0x200f: 'right-to-left mark',
    0x061c: 'arabic letter mark', 0x200b: 'zero-width space', 0x200c: 'zero-width non-joiner',
    0x200d: 'zero-width joiner', 0xfeff: 'zero-width no-break space (BOM)', 0x00ad: 'soft hyphen',
    0x2028: 'line separator', 0x2029: 'paragraph separator', 0x0d: 'carriage return', 0x1b: 'escape',
    0x00a0: 'no-break space', 0x202f: 'narrow no-break space', 0x3000: 'ideographic space', 0x1680: 'ogham space',
    0x2000: 'en quad', 0x2001: 'em quad', 0x2002: 'en space', 0x2003: 'em space', 0x2009: 'thin space',
    0x200a: 'hair space', 0x205f: 'medium mathematical space', 0xfe0f: 'variation selector-16',
  }
  const hex = (cp) => 'U+' + cp.toString(16).toUpperCase().padStart(4, '0')

  // Appends text to parent as text nodes, each hidden character as a marker; newlines too when
  // inline (a one-line field). Returns how many characters were marked.
  function appendText(parent, value, inline) {
    const text = value == null ? '' : String(value)
    const parts = text.split(inline ? /([\n\t]|[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u00A0\u00AD\u034F\u061C\u115F\u1160\u1680\u17B4\u17B5\u180B-\u180F\u2000-\u200F\u2028-\u202F\u205F-\u206F\u3000\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF9-\uFFFB]|[\u{E0000}-\u{E007F}\u{E0100}-\u{E01EF}])/u : HIDDEN)
    let marked = 0
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]
      if (part === '') continue
      if (i % 2 === 0) {
        parent.append(part)
        continue
      }
      marked++
      const cp = part.codePointAt(0)
      const marker = document.createElement('span')
      marker.className = 'cc'
      marker.textContent = cp === 10 ? '\u27EA\u21B5\u27EB' : '\u27EA' + hex(cp) + '\u27EB'
      marker.title = hex(cp) + (NAMES[cp] ? ' ' + NAMES[cp] : ' invisible or control character')
      parent.append(marker)
    }
    return marked
  }

  function gap(parent, text) {
    parent.append(el('span', { class: 'gap' }, text))
  }

  const SHOWN_LINES = 20
  const SHOWN_CHARS = 2048
  const SPACE_RUN = 8
  const BLANK_RUN = 2

  // The command as first shown: runs of blank lines and of spaces collapsed into counted gaps,
  // at most SHOWN_LINES lines / SHOWN_CHARS characters, then how much is left. 'total' is the
  // command's full length and 'lines' its line count (the list may hold only its start).
  function appendCollapsed(parent, text, total, lines) {
    const all = text.split('\n')
    let shownLines = 0
    let shownChars = 0
    let consumed = 0
    let marked = 0
    let i = 0
    let partial = false
    while (i < all.length && shownLines < SHOWN_LINES && shownChars < SHOWN_CHARS) {
      let j = i
      while (j < all.length && all[j].trim() === '') j++
      if (j - i > BLANK_RUN) {
        gap(parent, '\u2026 ' + (j - i) + ' empty lines')
        for (; i < j; i++) consumed += all[i].length + 1
        shownLines++
        if (i < all.length) parent.append('\n')
        continue
      }
      const line = all[i]
      const room = SHOWN_CHARS - shownChars
      const part = line.length > room ? line.slice(0, room) : line
      const runs = part.split(/([ \t]{9,})/)
      for (let r = 0; r < runs.length; r++) {
        if (r % 2 === 1) {
          parent.append(' ')
          gap(parent, '\u2026 ' + runs[r].length + ' spaces')
          parent.append(' ')
        } else marked += appendText(parent, runs[r], false)
      }
      shownChars += part.length
      if (part.length < line.length) {
        consumed += part.length
        partial = true
        break
      }
      consumed += line.length + 1
      shownLines++
      i++
      if (i < all.length) parent.append('\n')
    }
    const restChars = Math.max(0, total - consumed)
    // Lines wholly hidden (the rest of a line cut short shows in the character count).
    return { marked, restChars, restLines: restChars > 0 ? Math.max(0, lines - i - (partial ? 1 : 0)) : 0 }
  }

  // "in 4 min", "2 h ago": a coarse distance from now; the exact time goes in a title.
  function relative(ms) {
    const s = Math.round(Math.abs(ms) / 1000)
    const t = s < 60 ? s + ' s' : s < 3600 ? Math.round(s / 60) + ' min' : s < 172800 ? Math.round(s / 3600) + ' h' : Math.round(s / 86400) + ' days'
    return ms >= 0 ? 'in ' + t : t + ' ago'
  }
  function absolute(iso) {
    const d = new Date(iso)
    return d.toLocaleString() + ' (' + d.toISOString() + ')'
  }
`
