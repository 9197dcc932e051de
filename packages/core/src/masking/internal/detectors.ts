// Detectors find sensitive values inside strings, then validate them (Luhn, mod-97, JWT header,
// phone metadata, IP parsing) so that look-alikes are left alone.
//
// Every candidate regex is written to stay linear on hostile input: it starts with a negative
// lookbehind on its own first character class (so only the start of a run is tried), every
// quantifier is bounded, and repeated groups start with a literal separator that the group's body
// cannot match (so there is one way to split a match). test/masking/detectors.test.ts runs each
// one on long adversarial strings.
import { isIPv4, isIPv6 } from 'node:net'
import type { DetectorName } from '@warden/policy'
import { electronicFormatIBAN, isValidIBAN } from 'ibantools'
import { type CountryCode, getCountryCallingCode } from 'libphonenumber-js/max'
import { isValidPhone } from './phone.js'

export interface Span {
  start: number
  end: number
  detector: DetectorName
}

type Finder = (text: string, out: Span[], phoneCountry: CountryCode) => void

/** Runs `re` over `text`; `accept` returns how many characters of the match are the value (0: not one). */
function scanWith(name: DetectorName, re: RegExp, accept: (match: string) => number): Finder {
  return (text, out) => {
    re.lastIndex = 0
    for (let m = re.exec(text); m !== null; m = re.exec(text)) {
      const n = accept(m[0])
      if (n > 0) {
        out.push({ start: m.index, end: m.index + n, detector: name })
        re.lastIndex = m.index + n
      } else {
        // Not a value: try again one character later (the lookbehind keeps this linear).
        re.lastIndex = m.index + 1
      }
    }
  }
}

// ---- email
const EMAIL = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}/g
const TLD = /^(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59})$/
function acceptEmail(m: string): number {
  const at = m.indexOf('@')
  if (m.charCodeAt(0) === 46 || m.charCodeAt(at - 1) === 46) return 0
  const dots = m.indexOf('..')
  if (dots !== -1 && dots < at) return 0
  // Drop trailing labels until the last one is a plausible TLD (letters, or punycode).
  let end = m.length
  for (;;) {
    const dot = m.lastIndexOf('.', end - 1)
    if (dot <= at) return 0
    if (TLD.test(m.slice(dot + 1, end))) break
    end = dot
  }
  // No label starts or ends with `-`.
  for (let i = at + 1; i < end; i++) {
    if (m.charCodeAt(i) !== 45) continue
    const before = m.charCodeAt(i - 1)
    const after = i + 1 < end ? m.charCodeAt(i + 1) : 46
    if (before === 46 || before === 64 || after === 46) return 0
  }
  return end
}

// ---- credit cards: unseparated, 4-4-4-4(-3) or Amex 4-6-5 groups with one consistent separator.
const CARD =
  /(?<![\d])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5})(?![\d])/g
export function luhn(digits: string): boolean {
  let sum = 0
  let double = false
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48
    if (double) {
      d *= 2
      if (d > 9) d -= 9
    }
    sum += d
    double = !double
  }
  return sum % 10 === 0
}
function acceptCard(m: string): number {
  const digits = m.replace(/[ -]/g, '')
  if (digits.length < 13 || digits.length > 19) return 0
  if (/^(\d)\1+$/.test(digits)) return 0 // 0000000000000 passes Luhn; never a card
  return luhn(digits) ? m.length : 0
}

// ---- IBAN: country, check digits, then BBAN (optionally in groups of 4); validated by ibantools
// (per-country length and BBAN format, and the mod-97 check).
const IBAN = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{1,4}){3,8}(?![A-Za-z0-9])/g
function acceptIban(m: string): number {
  const e = electronicFormatIBAN(m)
  return e !== null && isValidIBAN(e) ? m.length : 0
}

// ---- US SSN: AAA-GG-SSSS (dash or space), without the never-issued areas/groups/serials.
const SSN = /(?<![\d-])\d{3}([- ])\d{2}\1\d{4}(?![\d])/g
function acceptSsn(m: string): number {
  const area = Number(m.slice(0, 3))
  const group = m.slice(4, 6)
  const serial = m.slice(7, 11)
  if (area === 0 || area === 666 || area >= 900 || group === '00' || serial === '0000') return 0
  return m.length
}

// ---- IPv4 / IPv6, validated by node:net's parser.
const IPV4 = /(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)/g
const acceptIpv4 = (m: string) => (isIPv4(m) ? m.length : 0)
const IPV6 = /(?<![0-9A-Fa-f:.])[0-9A-Fa-f:.]{3,45}(?![0-9A-Fa-f:.])/g
function acceptIpv6(m: string): number {
  let v = m
  while (v.endsWith('.')) v = v.slice(0, -1)
  if (!/[0-9A-Fa-f]/.test(v) || v.split(':').length < 3) return 0
  return isIPv6(v) ? v.length : 0
}

// ---- JWT (JWS compact, or JWE): the header must decode to a JSON object with a string `alg`.
// Found header first: a look-alike is rejected on its first part alone, so each character is read a
// bounded number of times whatever follows; only a plausible header is extended to the whole token.
const JWT_HEAD = /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{2,8192}(?=\.)/g
const JWT_REST = /(?:\.[A-Za-z0-9_-]{0,65536}){2}(?:\.[A-Za-z0-9_-]{1,65536}){0,2}(?![A-Za-z0-9_-])/y
const ALG = /"alg"\s*:\s*"/

function jwtHeader(part: string): string | null {
  const header = Buffer.from(part, 'base64url').toString('utf8').trim()
  // Cheap shape checks, so ordinary look-alikes never reach JSON.parse (and its slow throw).
  if (header.charCodeAt(0) !== 123 || header.charCodeAt(header.length - 1) !== 125) return null
  return ALG.test(header) ? header : null
}

const findJwt: Finder = (text, out) => {
  // JSON.parse calls allowed in this text: past them a token of the right shape is taken as one
  // without parsing (fail closed), so crafted near-JSON headers cannot make each candidate throw.
  let parses = 8 + (text.length >> 6)
  JWT_HEAD.lastIndex = 0
  for (let h = JWT_HEAD.exec(text); h !== null; h = JWT_HEAD.exec(text)) {
    const header = jwtHeader(h[0])
    if (header === null) continue
    JWT_REST.lastIndex = h.index + h[0].length
    const r = JWT_REST.exec(text)
    if (r === null) continue
    const parts = r[0].split('.') // ['', payload, sig(, …)]
    parts[0] = h[0]
    if (parts.length === 4) parts.pop()
    if (parts.length !== 3 && parts.length !== 5) continue
    if (parts.length === 3 && parts[1].length > 0 && Buffer.from(parts[1], 'base64url').length === 0) continue
    if (parses-- > 0) {
      try {
        const v = JSON.parse(header) as unknown
        if (typeof v !== 'object' || v === null || typeof (v as { alg?: unknown }).alg !== 'string') continue
      } catch {
        continue
      }
    }
    const end = h.index + parts.join('.').length
    out.push({ start: h.index, end, detector: 'jwt' })
    JWT_HEAD.lastIndex = end
  }
}

// ---- AWS access key ids: a known 4-letter prefix and 16 base32 characters.
const AWS =
  /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA|ASIA)[A-Z2-7]{16}(?![A-Za-z0-9])/g
const acceptAws = (m: string) => m.length

// ---- API keys with well-known prefixes (Stripe, GitHub, Slack, GitLab, OpenAI, Anthropic, Google,
// npm, Hugging Face, Shopify, DigitalOcean, SendGrid). The random part must mix letters and digits.
const API =
  /(?<![A-Za-z0-9_-])(?:(?:sk_live_|sk_test_|rk_live_|rk_test_|whsec_|ghp_|gho_|ghu_|ghs_|ghr_|github_pat_|xox[abposr]-|xapp-|glpat-|sk-ant-|sk-proj-|sk-|npm_|hf_|shpat_|shpss_|dop_v1_|AIza)[A-Za-z0-9_-]{16,255}|SG\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{16,64})(?![A-Za-z0-9_-])/g
function acceptApiKey(m: string): number {
  const body = m.replace(
    /^(?:sk_live_|sk_test_|rk_live_|rk_test_|whsec_|gh[pousr]_|github_pat_|xox[abposr]-|xapp-|glpat-|sk-ant-|sk-proj-|sk-|npm_|hf_|shpat_|shpss_|dop_v1_|AIza|SG\.)/,
    '',
  )
  return /[0-9]/.test(body) && /[A-Za-z]/.test(body) ? m.length : 0
}

// ---- PEM private keys: BEGIN … END with the same label. Found with indexOf, not a regex, and an
// unterminated block (a truncated `cat key.pem | head`) is masked to the end of the text.
const PEM_BEGIN = /-----BEGIN ([A-Z0-9]{1,20}(?: [A-Z0-9]{1,20}){0,3} )?PRIVATE KEY(?: BLOCK)?-----/g
const findPrivateKey: Finder = (text, out) => {
  if (!text.includes('PRIVATE KEY')) return
  PEM_BEGIN.lastIndex = 0
  const endSeen = new Map<string, number>() // label → index of its next END at/after the cursor, -1: none left
  for (let m = PEM_BEGIN.exec(text); m !== null; m = PEM_BEGIN.exec(text)) {
    const endMarker = m[0].replace('BEGIN', 'END')
    let end = endSeen.get(endMarker)
    if (end === undefined || (end !== -1 && end < m.index)) {
      end = text.indexOf(endMarker, m.index + m[0].length)
      endSeen.set(endMarker, end)
    }
    const stop = end === -1 ? text.length : end + endMarker.length
    out.push({ start: m.index, end: stop, detector: 'private_key' })
    PEM_BEGIN.lastIndex = stop
  }
}

// ---- phone numbers: up to six digit groups (each optionally in parentheses) with one or two
// separators from ` .-`, optionally after `+`; found by one left-to-right pass (no regex, no
// backtracking), then validated against libphonenumber's metadata (./phone.ts). A candidate with
// more digits than E.164 allows may hold several numbers: runs of its groups are tried, longest
// first, at most 21 per candidate. A budget of validations proportional to the text bounds the
// work on hostile input; past it, a candidate of a plausible length counts as a number (fail closed).
const nanpCache = new Map<string, boolean>()
function nanp(country: CountryCode): boolean {
  let v = nanpCache.get(country)
  if (v === undefined) {
    v = getCountryCallingCode(country) === '1'
    nanpCache.set(country, v)
  }
  return v
}
const isDigit = (c: number) => c >= 48 && c <= 57
const isWord = (c: number) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95
const isSep = (c: number) => c === 32 || c === 46 || c === 45

interface Group {
  start: number
  end: number
  digits: number
}

/** Reads one group at `i` (`(`? digits{1,15} `)`?); returns null when there is none. */
function readGroup(text: string, i: number): Group | null {
  let j = i
  if (text.charCodeAt(j) === 40) j++
  const d0 = j
  while (j < text.length && isDigit(text.charCodeAt(j))) j++
  const digits = j - d0
  if (digits === 0 || digits > 15) return null
  if (text.charCodeAt(j) === 41) j++
  return { start: i, end: j, digits }
}

function digitsOf(text: string, start: number, end: number): string {
  let out = ''
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i)
    if (isDigit(c)) out += text[i]
  }
  return out
}

const findPhone: Finder = (text, out, country) => {
  let budget = 8 + (text.length >> 5)
  const valid = (digits: string, plus: boolean): boolean => {
    if (budget-- > 0) return isValidPhone(digits, plus, country)
    return digits.length >= 10 && digits.length <= 15
  }
  const nanpRegion = nanp(country)
  const n = text.length
  let i = 0
  while (i < n) {
    const c = text.charCodeAt(i)
    const prev = i > 0 ? text.charCodeAt(i - 1) : -1
    if (
      !(isDigit(c) || c === 43 || c === 40) ||
      (prev !== -1 && (isWord(prev) || prev === 43 || prev === 40))
    ) {
      i++
      continue
    }
    const plus = c === 43
    const groups: Group[] = []
    let j = plus ? i + 1 : i
    for (;;) {
      const g = readGroup(text, j)
      if (g === null) break
      groups.push(g)
      if (groups.length === 6) break
      let k = g.end
      let seps = 0
      while (k < n && seps < 2 && isSep(text.charCodeAt(k))) {
        k++
        seps++
      }
      if (seps === 0) break
      j = k
    }
    // The run must not end inside a word (`555-1234x`): drop groups until it does not.
    while (groups.length > 0 && isWord(text.charCodeAt(groups[groups.length - 1].end))) groups.pop()
    if (groups.length === 0) {
      // Skip the whole run of digits/parens so no start inside it is tried again.
      i = Math.max(i + 1, j)
      while (i < n && isWord(text.charCodeAt(i))) i++
      continue
    }
    const end = groups[groups.length - 1].end
    let total = 0
    for (const g of groups) total += g.digits
    if (total >= 7 && total <= 15) {
      const digits = digitsOf(text, i, end)
      // NANP numbers without `+` are 10 digits, or 11 with the trunk 1: a free check first.
      const plausible =
        plus || !nanpRegion || digits.length === 10 || (digits.length === 11 && digits[0] === '1')
      if (plausible && valid(digits, plus)) out.push({ start: i, end, detector: 'phone' })
    } else if (total > 15) {
      for (let a = 0; a < groups.length; ) {
        let found = -1
        let sum = 0
        for (let b = a; b < groups.length; b++) sum += groups[b].digits
        for (let b = groups.length - 1; b >= a && found === -1; b--) {
          if (sum >= 7 && sum <= 15) {
            const from = a === 0 ? i : groups[a].start
            const digits = digitsOf(text, from, groups[b].end)
            const p = a === 0 && plus
            const plausible =
              p || !nanpRegion || digits.length === 10 || (digits.length === 11 && digits[0] === '1')
            if (plausible && valid(digits, p)) {
              out.push({ start: from, end: groups[b].end, detector: 'phone' })
              found = b
            }
          }
          sum -= groups[b].digits
        }
        a = found === -1 ? a + 1 : found + 1
      }
    }
    i = end
  }
}

interface DetectorDef {
  /** Cheap test that rules the detector out for most strings. */
  readonly maybe: (text: string) => boolean
  readonly find: Finder
}

const hasDigit = /\d/
const DETECTORS = {
  private_key: { maybe: (t) => t.includes('-----BEGIN '), find: findPrivateKey },
  jwt: { maybe: (t) => t.includes('eyJ'), find: findJwt },
  api_key: { maybe: (t) => t.length >= 19, find: scanWith('api_key', API, acceptApiKey) },
  aws_access_key: { maybe: (t) => t.length >= 20, find: scanWith('aws_access_key', AWS, acceptAws) },
  email: { maybe: (t) => t.includes('@'), find: scanWith('email', EMAIL, acceptEmail) },
  iban: { maybe: (t) => t.length >= 15 && hasDigit.test(t), find: scanWith('iban', IBAN, acceptIban) },
  credit_card: {
    maybe: (t) => t.length >= 13 && hasDigit.test(t),
    find: scanWith('credit_card', CARD, acceptCard),
  },
  us_ssn: { maybe: (t) => t.length >= 11 && hasDigit.test(t), find: scanWith('us_ssn', SSN, acceptSsn) },
  ipv6: { maybe: (t) => t.includes(':'), find: scanWith('ipv6', IPV6, acceptIpv6) },
  ipv4: { maybe: (t) => t.includes('.') && hasDigit.test(t), find: scanWith('ipv4', IPV4, acceptIpv4) },
  phone: { maybe: (t) => t.length >= 7 && hasDigit.test(t), find: findPhone },
} as const satisfies Record<DetectorName, DetectorDef>

export const DETECTOR_NAMES = Object.keys(DETECTORS) as DetectorName[]

export function isDetectorName(name: unknown): name is DetectorName {
  return typeof name === 'string' && Object.hasOwn(DETECTORS, name)
}

/** Non-overlapping spans, in order; on overlap the earlier, then the longer, span wins. */
export function findSpans(
  text: string,
  detectors: readonly DetectorName[],
  phoneCountry: CountryCode,
): Span[] {
  const out: Span[] = []
  for (const name of detectors) {
    const d: DetectorDef = DETECTORS[name]
    if (d.maybe(text)) d.find(text, out, phoneCountry)
  }
  if (out.length <= 1) return out
  out.sort((a, b) => a.start - b.start || b.end - a.end)
  const kept: Span[] = []
  let lastEnd = -1
  for (const s of out) {
    if (s.start >= lastEnd) {
      kept.push(s)
      lastEnd = s.end
    }
  }
  return kept
}
