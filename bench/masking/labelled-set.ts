// A labelled set for the detectors, generated from a fixed seed (no network, no data set to ship):
// for each detector, positives (valid values in a sentence) and near misses (same shape, failing
// the validation the detector promises: Luhn, SSN area, IBAN mod-97, phone metadata, label rules)
// that must stay untouched. Used by bench/masking/precision.ts and pinned by
// packages/core/test/masking/labelled-set.test.ts.
import { createHash } from 'node:crypto'
import { DETECTOR_NAMES, type DetectorName } from '@warden/policy'

export interface Labelled {
  readonly detector: DetectorName
  /** The secret inside `text` (positives) or the look-alike (near misses). */
  readonly value: string
  readonly text: string
  readonly positive: boolean
}

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const b64url = (s: string) => Buffer.from(s).toString('base64url')

export function labelledSet(seed = 19, perDetector = 200): Labelled[] {
  const r = prng(seed)
  const int = (n: number) => Math.floor(r() * n)
  const digits = (n: number) => Array.from({ length: n }, () => int(10)).join('')
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]
  const alnum = (n: number, set = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789') =>
    Array.from({ length: n }, () => set[int(set.length)]).join('')
  const luhnDigit = (body: string) => {
    let sum = 0
    for (let i = 0; i < body.length; i++) {
      let d = Number(body[body.length - 1 - i])
      if (i % 2 === 0) {
        d *= 2
        if (d > 9) d -= 9
      }
      sum += d
    }
    return String((10 - (sum % 10)) % 10)
  }
  const mod97 = (s: string) => {
    let m = 0
    for (const ch of s) m = (m * 10 + Number(ch)) % 97
    return m
  }
  const ibanOf = (country: string, bban: string) => {
    const numeric = `${bban}${country}00`.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55))
    const check = String(98 - mod97(numeric)).padStart(2, '0')
    return `${country}${check}${bban}`
  }
  const words = ['please', 'contact', 'see', 'value', 'ref', 'note:', 'customer', 'ticket', 'logged']
  const sentence = (v: string) => `${pick(words)} ${pick(words)} ${v} ${pick(words)}.`
  const sets: Record<DetectorName, { pos: () => string; neg: () => string }> = {
    email: {
      pos: () =>
        `${alnum(6, 'abcdefghijklmnop')}.${alnum(4, 'qrstuvwxyz')}@${alnum(7, 'abcdefghij')}.${pick(['com', 'org', 'net', 'io', 'de'])}`,
      neg: () =>
        pick([
          `${alnum(6, 'abcdef')}@${alnum(5, 'ghij')}`,
          `@${alnum(6, 'abc')}.com`,
          `${alnum(5, 'abc')}@.com`,
          `${alnum(4, 'abc')}@${alnum(4, 'abc')}.c0m`,
        ]),
    },
    credit_card: {
      pos: () => {
        const body = `4${digits(14)}`
        const n = body + luhnDigit(body)
        return pick([n, n.replace(/(\d{4})(?=\d)/g, '$1 '), n.replace(/(\d{4})(?=\d)/g, '$1-')])
      },
      neg: () => {
        const body = `4${digits(14)}`
        const bad = body + String((Number(luhnDigit(body)) + 1 + int(8)) % 10)
        return pick([bad, bad.replace(/(\d{4})(?=\d)/g, '$1 '), '4444444444444444'])
      },
    },
    iban: {
      pos: () => {
        const [c, bban] = pick([
          ['DE', digits(18)],
          ['GB', `NWBK${digits(14)}`],
          ['NL', `ABNA${digits(10)}`],
        ] as const)
        const iban = ibanOf(c, bban)
        return r() < 0.5 ? iban : iban.replace(/(.{4})(?=.)/g, '$1 ')
      },
      neg: () => {
        const good = ibanOf('DE', digits(18))
        const check = (Number(good.slice(2, 4)) + 1 + int(50)) % 97
        return `DE${String(check).padStart(2, '0')}${good.slice(4)}`
      },
    },
    us_ssn: {
      pos: () =>
        `${String(1 + int(665))
          .padStart(3, '0')
          .replace(
            /^000$/,
            '001',
          )}-${String(1 + int(99)).padStart(2, '0')}-${String(1 + int(9999)).padStart(4, '0')}`,
      neg: () =>
        pick([
          `000-${digits(2)}-${digits(4)}`,
          `666-${digits(2)}-${digits(4)}`,
          `9${digits(2)}-${digits(2)}-${digits(4)}`,
          `123-00-${digits(4)}`,
          `123-45-0000`,
        ]),
    },
    phone: {
      pos: () =>
        pick([
          `+1 415 555 ${digits(4)}`.replace(/555 /, `${pick(['555', '632', '781'])} `),
          `+44 20 7946 ${digits(4)}`,
          `+49 30 ${digits(8)}`,
          `(212) ${pick(['555', '736', '242'])}-${digits(4)}`,
        ]),
      neg: () =>
        pick([
          `+1 015 555 ${digits(4)}`,
          `+44 ${digits(3)}`,
          `v${digits(1)}.${digits(1)}.${digits(2)}`,
          `2024-0${1 + int(9)}-1${int(9)}`,
        ]),
    },
    ipv4: {
      pos: () => `${1 + int(223)}.${int(256)}.${int(256)}.${1 + int(254)}`,
      neg: () =>
        pick([
          `${256 + int(700)}.${int(256)}.${int(256)}.${int(256)}`,
          `${int(256)}.${int(256)}.${int(256)}`,
          `1.2.3.4.5`,
        ]),
    },
    ipv6: {
      pos: () =>
        pick([
          `2001:db8:${alnum(4, '0123456789abcdef')}::${alnum(3, '0123456789abcdef')}`,
          `fe80::${alnum(4, '0123456789abcdef')}:${alnum(4, '0123456789abcdef')}:${alnum(2, '0123456789abcdef')}ff:fe${alnum(2, '0123456789abcdef')}:${alnum(4, '0123456789abcdef')}`,
        ]),
      neg: () => pick([`2001:db8:::${alnum(3, '0123456789abcdef')}`, `12:34:56`, `1:2:3:4:5:6:7:8:9`]),
    },
    jwt: {
      pos: () =>
        `${b64url(JSON.stringify({ alg: pick(['HS256', 'RS256', 'ES256']), typ: 'JWT' }))}.${b64url(JSON.stringify({ sub: alnum(8) }))}.${alnum(43, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')}`,
      neg: () =>
        `${b64url(JSON.stringify({ typ: 'JWT', kid: alnum(4) }))}.${b64url(JSON.stringify({ sub: alnum(8) }))}.${alnum(43)}`,
    },
    aws_access_key: {
      pos: () => `${pick(['AKIA', 'ASIA'])}${alnum(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`,
      neg: () =>
        pick([
          `AKIA${alnum(15, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`,
          `AKIA${alnum(16, 'abcdefghijklmnop')}`,
          `XKIA${alnum(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}`,
        ]),
    },
    private_key: {
      pos: () => {
        const body = createHash('sha512').update(String(r())).digest('base64')
        return `-----BEGIN ${pick(['', 'RSA ', 'EC ', 'OPENSSH '])}PRIVATE KEY-----\n${body}\n${body}\n-----END PRIVATE KEY-----`.replace(
          /END PRIVATE/,
          (m) => m,
        )
      },
      neg: () => {
        const body = createHash('sha512').update(String(r())).digest('base64')
        return `-----BEGIN ${pick(['CERTIFICATE', 'PUBLIC KEY', 'RSA PUBLIC KEY'])}-----\n${body}\n-----END CERTIFICATE-----`
      },
    },
    api_key: {
      pos: () =>
        `${pick(['sk_live_', 'ghp_', 'glpat-', 'xoxb-', 'npm_', 'hf_'])}${alnum(12, 'abcdefghjkmnpqrstuvwxyz')}${digits(4)}${alnum(8)}`,
      neg: () =>
        pick([
          `sk_live_${alnum(20, 'abcdefghijklmnop')}`,
          `ghp_${digits(20)}`,
          `ghp_${alnum(8)}`,
          `my_sk_live_value`,
        ]),
    },
  }
  const out: Labelled[] = []
  for (const detector of DETECTOR_NAMES) {
    const set = sets[detector]
    for (let i = 0; i < perDetector; i++) {
      const value = set.pos()
      out.push({ detector, value, text: sentence(value), positive: true })
      const miss = set.neg()
      out.push({ detector, value: miss, text: sentence(miss), positive: false })
    }
  }
  return out
}

export interface DetectorScore {
  readonly detector: DetectorName
  readonly positives: number
  readonly caught: number
  readonly nearMisses: number
  /** Near misses changed by this detector (false positives). */
  readonly touched: number
  readonly precision: number
  readonly recall: number
  /** Positives missed and near misses touched, for the test's message. */
  readonly errors: readonly string[]
}

/** Runs each detector alone over every item: a positive is caught when its value is gone from the text. */
export function score(
  items: readonly Labelled[],
  mask: (detector: DetectorName, text: string) => string,
): DetectorScore[] {
  return DETECTOR_NAMES.map((detector) => {
    let positives = 0
    let caught = 0
    let nearMisses = 0
    let touched = 0
    let fp = 0
    const errors: string[] = []
    for (const item of items) {
      const out = mask(detector, item.text)
      const changed = out !== item.text
      if (item.detector === detector && item.positive) {
        positives++
        if (!out.includes(item.value)) caught++
        else errors.push(`missed ${JSON.stringify(item.value)}`)
      } else if (item.detector === detector) {
        nearMisses++
        if (changed) {
          touched++
          fp++
          errors.push(`touched near miss ${JSON.stringify(item.value)}`)
        }
      } else if (changed && !item.positive) fp++
    }
    return {
      detector,
      positives,
      caught,
      nearMisses,
      touched,
      precision: caught + fp === 0 ? 1 : caught / (caught + fp),
      recall: positives === 0 ? 1 : caught / positives,
      errors,
    }
  })
}
