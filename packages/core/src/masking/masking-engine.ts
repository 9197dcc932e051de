// The masking engine: compiles decision.masks into per-shape plans (cached), and hands the
// pipeline one CommandMasker per command that applies them and counts what it masked.
import type { MaskRule, MaskStrategyName } from '@warden/policy'
import { WardenTypeError } from '@warden/policy'
import type { CountryCode } from 'libphonenumber-js/max'
import type { Secret } from '../secret.js'
import { CommandMaskerImpl, type PlanSource } from './internal/command-masker.js'
import { compilePlan } from './internal/compile-plan.js'
import { deriveKeys, keyMaterial, type MaskingKeys, openToken } from './internal/keys.js'
import { Lru } from './internal/lru.js'
import { type CompiledPlan, compileRules, deepFrozenRule, fail, type RuleSet } from './internal/rule-set.js'
import type { ColumnRef, Masker } from './mask-plan.js'

export interface MaskingOptions {
  /**
   * Key for `hash` and `tokenize` (at least 16 bytes). Without one, a random key is made per
   * process: hashes and tokens then differ between processes and restarts (no joins across
   * instances, and tokens can never be detokenized after the process ends).
   */
  readonly key?: string | Secret
  /** Compiled plans kept per engine (LRU). Default 1024. */
  readonly planCacheSize?: number
  /** Region for phone numbers written without `+country` (ISO 3166 alpha-2). Default `US`. */
  readonly phoneCountry?: CountryCode
  /**
   * Longest string (or binary value) that detectors scan, in characters (bytes). A longer value
   * under a detector rule is masked whole with that rule's strategy instead (fail closed), which
   * bounds the synchronous work per value. Default 262144 (256 Ki).
   */
  readonly maxScanLength?: number
}

/** What one command masked: values per column (or JSON path, or `(text)`) and strategy. */
export interface MaskReportEntry {
  readonly column: string
  readonly strategy: MaskStrategyName
  readonly count: number
}

/** The per-command masker the pipeline passes to drivers as `context.masker`. */
export interface CommandMasker extends Masker {
  /** Counts for the audit record's `masked` field; entries with a zero count are left out. */
  report(): MaskReportEntry[]
  /** Flow tags of the rules that actually masked something in this command. */
  tags(): string[]
}

export interface MaskingEngine {
  /** A masker for one command's rules (`decision.masks`). Throws ERR_WARDEN_MASKING on a malformed rule. */
  masker(rules: readonly MaskRule[]): CommandMasker
  /** Opens a token made by this engine's `tokenize` strategy. */
  detokenize(token: string): string
  /** True when no key was given (a random per-process key is in use). */
  readonly ephemeralKey: boolean
}

class Engine implements MaskingEngine, PlanSource {
  readonly #keys: MaskingKeys
  readonly #country: CountryCode
  readonly #ruleSets = new Lru<string, RuleSet>(256)
  readonly #byRules = new WeakMap<readonly MaskRule[], RuleSet>()
  /**
   * Rule sets by the identity of their (frozen) rule objects, keyed by the first rule: a policy
   * hands out a new `masks` array per decision but the same frozen rule objects, so the common
   * path finds its set without building a string key.
   */
  readonly #byFirstRule = new WeakMap<
    object,
    { readonly rules: readonly MaskRule[]; readonly set: RuleSet }[]
  >()
  readonly #plans: Lru<string, CompiledPlan>
  readonly ephemeralKey: boolean
  readonly maxScanLength: number
  #nextId = 1

  constructor(options: MaskingOptions) {
    if (typeof options !== 'object' || options === null)
      throw new WardenTypeError('createMaskingEngine: options must be an object')
    const material = keyMaterial(options.key, 'createMaskingEngine')
    this.ephemeralKey = material === undefined
    this.#keys = deriveKeys(material)
    material?.fill(0)
    const size = options.planCacheSize ?? 1024
    if (!Number.isInteger(size) || size < 1)
      throw new WardenTypeError('createMaskingEngine: "planCacheSize" must be a positive integer')
    this.#plans = new Lru(size)
    this.#country = options.phoneCountry ?? 'US'
    if (!/^[A-Z]{2}$/.test(this.#country))
      throw new WardenTypeError('createMaskingEngine: "phoneCountry" must be an ISO 3166 alpha-2 code')
    this.maxScanLength = options.maxScanLength ?? 262_144
    if (!Number.isInteger(this.maxScanLength) || this.maxScanLength < 64)
      throw new WardenTypeError('createMaskingEngine: "maxScanLength" must be an integer of at least 64')
    Object.freeze(this)
  }

  masker(rules: readonly MaskRule[]): CommandMasker {
    return new CommandMaskerImpl(this, this.#ruleSet(rules))
  }

  detokenize(token: string): string {
    return openToken(this.#keys, token)
  }

  /** @internal */
  get country(): CountryCode {
    return this.#country
  }

  /** @internal The compiled plan for (rules, shape): from the identity cache, then the LRU, else compiled. */
  compiledPlan(set: RuleSet, columns: readonly ColumnRef[]): CompiledPlan {
    const known = set.byColumns.get(columns)
    if (known !== undefined) return known
    let shape = `${set.id}`
    for (const c of columns) {
      shape += `\u0001${c.name}\u0000${c.table ?? ''}\u0000${c.origin ?? ''}`
      if (c.derivedFrom !== undefined && c.derivedFrom.length > 0)
        shape += `\u0000${c.derivedFrom.join('\u0002')}`
    }
    let plan = this.#plans.get(shape)
    if (plan === undefined) {
      plan = compilePlan(set, columns)
      this.#plans.set(shape, plan)
    }
    set.byColumns.set(columns, plan)
    return plan
  }

  #ruleSet(rules: readonly MaskRule[]): RuleSet {
    if (!Array.isArray(rules)) fail('masker: rules must be an array of mask rules')
    const known = this.#byRules.get(rules)
    if (known !== undefined) return known
    const first = rules[0] as unknown
    const candidates = typeof first === 'object' && first !== null ? this.#byFirstRule.get(first) : undefined
    if (candidates !== undefined) {
      for (let c = 0; c < candidates.length; c++) {
        const cand = candidates[c].rules
        if (cand.length !== rules.length) continue
        let same = true
        for (let i = 1; i < rules.length && same; i++) same = cand[i] === rules[i]
        if (same) return candidates[c].set
      }
    }
    const key = JSON.stringify(rules.map((r) => [r?.name, r?.columns, r?.detectors, r?.strategy, r?.tags]))
    let set = this.#ruleSets.get(key)
    if (set === undefined) {
      set = compileRules(rules, this.#keys, this.#nextId++)
      this.#ruleSets.set(key, set)
    }
    // Decisions from one policy share their frozen mask arrays (or at least their frozen rule
    // objects); remember by identity too.
    if (Object.isFrozen(rules)) this.#byRules.set(rules, set)
    if (
      typeof first === 'object' &&
      first !== null &&
      rules.every((r) => Object.isFrozen(r) && deepFrozenRule(r))
    ) {
      let list = this.#byFirstRule.get(first)
      if (list === undefined) {
        list = []
        this.#byFirstRule.set(first, list)
      }
      if (list.length < 64) list.push({ rules: Object.freeze([...rules]), set })
    }
    return set
  }
}

/** Creates the engine that compiles and caches mask plans. One per Warden. */
export function createMaskingEngine(options: MaskingOptions = {}): MaskingEngine {
  return new Engine(options)
}
