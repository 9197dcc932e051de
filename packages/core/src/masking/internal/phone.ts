// Phone numbers, found in one pass and validated against libphonenumber-js's metadata with
// precompiled patterns. libphonenumber's own parse()+isValid() compiles its patterns anew on every
// call (~30 µs a number); here each region's patterns are compiled once, so a candidate costs a few
// anchored regex tests on at most 15 digits. A number is valid when its national number matches the
// region's general pattern and one of its type patterns (fixed line, mobile, toll free, …), as
// libphonenumber's isValid() decides; with `+`, any region of the calling code will do.
import { type CountryCode, getCountryCallingCode, Metadata } from 'libphonenumber-js/max'

interface Plan {
  readonly general: RegExp
  readonly types: readonly { readonly re: RegExp; readonly lengths: ReadonlySet<number> | null }[] | null
  readonly nationalPrefix: RegExp | null
  /** `$1`-style rewrite of what the prefix pattern captured (JP, AR, MX, …), as libphonenumber does. */
  readonly transform: string | null
  readonly lengths: ReadonlySet<number>
}

/** The parts of libphonenumber-js's Metadata class this file reads (typed loosely in its .d.ts). */
interface NumberingPlan {
  nationalNumberPattern(): string
  possibleLengths(): number[] | undefined
  nationalPrefixForParsing(): string | undefined
  nationalPrefixTransformRule(): string | undefined
  types(): ([string, number[]?] | 0 | undefined)[] | undefined
}
interface MetadataImpl {
  selectNumberingPlan(country: string): void
  numberingPlan: NumberingPlan
  countryCallingCodes(): Record<string, string[]>
  hasCallingCode(code: string): boolean
}

const meta = new Metadata() as unknown as MetadataImpl
const CALLING = meta.countryCallingCodes()
const plans = new Map<string, Plan | null>()

const anchored = (p: string) => new RegExp(`^(?:${p})$`)

function plan(region: string): Plan | null {
  let p = plans.get(region)
  if (p !== undefined) return p
  try {
    meta.selectNumberingPlan(region)
    const np = meta.numberingPlan
    const types = np.types()
    const typeRes: { re: RegExp; lengths: ReadonlySet<number> | null }[] = []
    if (types !== undefined)
      for (const t of types)
        if (Array.isArray(t) && typeof t[0] === 'string' && t[0] !== '')
          typeRes.push({ re: anchored(t[0]), lengths: Array.isArray(t[1]) ? new Set(t[1]) : null })
    const prefix = np.nationalPrefixForParsing()
    p = {
      general: anchored(np.nationalNumberPattern()),
      types: types === undefined || typeRes.length === 0 ? null : typeRes,
      nationalPrefix: prefix ? new RegExp(`^(?:${prefix})`) : null,
      transform: np.nationalPrefixTransformRule() || null,
      lengths: new Set(np.possibleLengths() ?? []),
    }
  } catch {
    p = null
  }
  plans.set(region, p)
  return p
}

function validNational(p: Plan, national: string): boolean {
  if (p.lengths.size > 0 && !p.lengths.has(national.length)) return false
  if (!p.general.test(national)) return false
  if (p.types === null) return true
  for (const t of p.types)
    if ((t.lengths === null || t.lengths.has(national.length)) && t.re.test(national)) return true
  return false
}

function validIn(p: Plan, digits: string, withPrefix: boolean): boolean {
  if (validNational(p, digits)) return true
  if (!withPrefix || p.nationalPrefix === null) return false
  const m = p.nationalPrefix.exec(digits)
  if (m === null || m[0].length === 0) return false
  const rest = digits.slice(m[0].length)
  if (p.transform !== null && m.length > 1 && m[m.length - 1] !== undefined) {
    const rewritten = p.transform.replace(/\$(\d)/g, (_, k: string) => m[Number(k)] ?? '') + rest
    if (validNational(p, rewritten)) return true
  }
  return validNational(p, rest)
}

const regionsOf = new Map<string, readonly string[]>()
function sameCode(country: CountryCode): readonly string[] {
  let r = regionsOf.get(country)
  if (r === undefined) {
    const code = getCountryCallingCode(country)
    r = [country, ...(CALLING[code] ?? []).filter((c) => c !== country)]
    regionsOf.set(country, r)
  }
  return r
}

/** `digits` (only digits) is a valid number: international when `plus`, else for `country`'s calling code. */
export function isValidPhone(digits: string, plus: boolean, country: CountryCode): boolean {
  if (digits.length < 7 || digits.length > 17) return false
  if (plus) {
    for (let n = 1; n <= 3; n++) {
      const code = digits.slice(0, n)
      // Non-geographic codes (800, 870, …) have no regions: their plan is selected by the code.
      const regions = CALLING[code] ?? (meta.hasCallingCode(code) ? [code] : undefined)
      if (regions === undefined) continue
      const national = digits.slice(n)
      // The calling code's main region sets the lengths (CA's local-only 7 digits are not E.164).
      const main = plan(regions[0])
      if (main !== null && main.lengths.size > 0 && !main.lengths.has(national.length) && regions.length > 1)
        return false
      for (const r of regions) {
        const p = plan(r)
        if (p !== null && validIn(p, national, true)) return true
      }
      return false // calling codes are prefix-free: no other split can be one
    }
    return false
  }
  for (const r of sameCode(country)) {
    const p = plan(r)
    if (p !== null && validIn(p, digits, true)) return true
  }
  return false
}
