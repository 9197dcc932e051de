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
import {
  type CountryCode,
  findPhoneNumbersInText,
  getCountryCallingCode,
  parsePhoneNumberFromString,
} from 'libphonenumber-js/max'

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
function acceptEmail(m: string): number {
  const at = m.indexOf('@')
  const local = m.slice(0, at)
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return 0
  const labels = m.slice(at + 1).split('.')
  // Drop trailing labels until the last one is a plausible TLD (letters, or punycode).
  while (labels.length >= 2) {
    const tld = labels[labels.length - 1]
    if (/^(?:[A-Za-z]{2,24}|xn--[A-Za-z0-9-]{1,59})$/.test(tld)) break
    labels.pop()
  }
  if (labels.length < 2) return 0
  if (labels.some((l) => l.startsWith('-') || l.endsWith('-'))) return 0
  return at + 1 + labels.join('.').length
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
const JWT =
  /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{2,8192}(?:\.[A-Za-z0-9_-]{0,65536}){2}(?:\.[A-Za-z0-9_-]{1,65536}){0,2}(?![A-Za-z0-9_-])/g
function acceptJwt(m: string): number {
  const parts = m.split('.')
  if (parts.length === 4) parts.pop()
  if (parts.length !== 3 && parts.length !== 5) return 0
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as unknown
    if (
      typeof header !== 'object' ||
      header === null ||
      typeof (header as { alg?: unknown }).alg !== 'string'
    )
      return 0
    if (parts.length === 3 && parts[1].length > 0) {
      // A JWS payload is base64url; an undecodable one means this is not a token.
      if (Buffer.from(parts[1], 'base64url').length === 0) return 0
    }
  } catch {
    return 0
  }
  return parts.join('.').length
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

// ---- phone numbers: up to six digit groups with short separators (a bounded, linear candidate),
// then libphonenumber's metadata: a valid number for the region (or any region with `+`). A
// candidate with more digits than E.164 allows may be two numbers: libphonenumber's own finder
// splits it (bounded input, so bounded work).
const PHONE = /(?<![\w+(])\+?\(?\d{1,15}\)?(?:[ .-]{1,2}\(?\d{1,15}\)?){0,5}(?!\w)/g
const nanpCache = new Map<string, boolean>()
function nanp(country: CountryCode): boolean {
  let v = nanpCache.get(country)
  if (v === undefined) {
    v = getCountryCallingCode(country) === '1'
    nanpCache.set(country, v)
  }
  return v
}
const findPhone: Finder = (text, out, country) => {
  PHONE.lastIndex = 0
  for (let m = PHONE.exec(text); m !== null; m = PHONE.exec(text)) {
    const candidate = m[0]
    let digits = 0
    for (let i = 0; i < candidate.length; i++) {
      const c = candidate.charCodeAt(i)
      if (c >= 48 && c <= 57) digits++
    }
    if (digits < 7) continue
    // NANP numbers without `+` are 10 digits, or 11 with the trunk 1: a free check before parsing.
    if (
      candidate.charCodeAt(0) !== 43 &&
      nanp(country) &&
      digits !== 10 &&
      !(digits === 11 && candidate.replace(/\D/g, '').startsWith('1'))
    ) {
      if (digits <= 15) continue
    }
    if (digits <= 15) {
      if (parsePhoneNumberFromString(candidate, country)?.isValid() === true) {
        out.push({ start: m.index, end: m.index + candidate.length, detector: 'phone' })
      }
      continue
    }
    for (const found of findPhoneNumbersInText(candidate, { defaultCountry: country })) {
      if (found.number.isValid())
        out.push({ start: m.index + found.startsAt, end: m.index + found.endsAt, detector: 'phone' })
    }
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
  jwt: { maybe: (t) => t.includes('eyJ'), find: scanWith('jwt', JWT, acceptJwt) },
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
