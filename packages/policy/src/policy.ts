import type { ApprovalRequirement, Decider, Decision, Effect, MaskRule, MatchedRule } from './decision.js'
import { explainEnvironment, explainRule, type PolicyExplanation } from './explain.js'
import type { CompiledExpression } from './internal/cel.js'
import { completeRequest, RequestShapeError } from './internal/complete-request.js'
import { DecisionCache, volatileExpressions } from './internal/decision-cache.js'
import type { ResourceGlob } from './internal/glob.js'
import type { CelContext } from './internal/request-types.js'
import type { Request, RequestInput } from './request.js'

/** @internal */
export interface CompiledRule {
  readonly name: string
  readonly effect: Effect
  readonly reason: string
  readonly approval: ApprovalRequirement | null
  readonly shadow: boolean
  readonly tags: readonly string[]
  readonly source: string
  readonly resources: readonly ResourceGlob[] | null
  readonly when: CompiledExpression | null
  /** The `when` as written and the `resources` globs, for explain(). */
  readonly whenText: string | null
  readonly resourcePatterns: readonly string[] | null
  /** The frozen `matched` entry reported when the rule fires. */
  readonly hit: MatchedRule
}

/** @internal */
export interface CompiledMask {
  readonly name: string
  readonly shadow: boolean
  readonly source: string
  readonly resources: readonly ResourceGlob[] | null
  readonly when: CompiledExpression | null
  readonly rule: MaskRule
}

/** @internal */
export interface PolicyParts {
  readonly rules: readonly CompiledRule[]
  readonly masks: readonly CompiledMask[]
  readonly defaults: {
    readonly effect: Effect
    readonly reason: string
    readonly approval: ApprovalRequirement | null
  }
  readonly revision: string
  readonly sources: readonly string[]
  readonly clock: () => Date
  readonly warnings?: readonly PolicyWarning[]
  /** Decision cache size (0: off). */
  readonly decisionCache?: number
}

/**
 * Something in a policy that loads but is almost certainly a mistake, e.g. a comparison with a
 * value the field never holds (`principal.type == "agnet"`): the rule can never match.
 */
export interface PolicyWarning {
  readonly code: 'WARN_POLICY_ENUM_LITERAL'
  /** The problem, without location. */
  readonly detail: string
  readonly file?: string
  readonly line?: number
  readonly column?: number
  readonly snippet?: string
  /** Document path, e.g. `rules[2].when`. */
  readonly path?: string
}

/** A rule as listed by `policy.rules` (for tooling: `warden policy check`, explain views). */
export interface PolicyRuleInfo {
  readonly name: string
  readonly effect: Effect
  readonly shadow: boolean
  readonly tags: readonly string[]
  readonly source: string
}

const NONE: readonly never[] = Object.freeze([])
const PRECEDENCE = { allow: 0, approve: 1, deny: 2 } as const satisfies Record<Effect, number>

const appliesTo = (globs: readonly ResourceGlob[] | null, kind: string, name: string): boolean => {
  if (globs === null) return true
  for (let i = 0; i < globs.length; i++) if (globs[i].kind(kind) && globs[i].name(name)) return true
  return false
}

/** Why a CEL evaluation failed, without values (cel-js messages name keys and types only). */
const describeError = (e: unknown): string => {
  const err = e as { code?: string; summary?: string; message?: string }
  const text = err?.summary ?? String(err?.message ?? e).split('\n')[0]
  return `${err?.code ?? 'error'}: ${text}`.slice(0, 300)
}

/**
 * A compiled policy set. `decide()` is synchronous and pure: precedence deny > approve > allow >
 * default; a runtime error in a rule that could deny (a deny or approve rule) counts against the
 * request. Exported from `@warden/policy`; build one with `compilePolicy` or `loadPolicy`.
 */
export class Policy implements Decider {
  /** `sha256:<hex>` content hash of the documents this policy was compiled from. */
  readonly revision: string
  /** Source names (files) in load order. */
  readonly sources: readonly string[]
  /** The rules in evaluation order. */
  readonly rules: readonly PolicyRuleInfo[]
  /** Mask rule names in order. */
  readonly maskNames: readonly string[]
  /** Likely mistakes that do not stop the policy loading (`warden policy check` prints them). */
  readonly warnings: readonly PolicyWarning[]
  readonly #rules: readonly CompiledRule[]
  readonly #masks: readonly CompiledMask[]
  readonly #defaults: PolicyParts['defaults']
  readonly #clock: () => Date
  readonly #defaultDecision: Decision
  readonly #cache: DecisionCache | undefined

  /** @internal Use compilePolicy/loadPolicy. */
  constructor(parts: PolicyParts) {
    this.revision = parts.revision
    this.sources = Object.freeze([...parts.sources])
    this.#rules = parts.rules
    this.#masks = parts.masks
    this.#defaults = parts.defaults
    this.#clock = parts.clock
    this.rules = Object.freeze(
      parts.rules.map((r) =>
        Object.freeze({ name: r.name, effect: r.effect, shadow: r.shadow, tags: r.tags, source: r.source }),
      ),
    )
    this.maskNames = Object.freeze(parts.masks.map((m) => m.name))
    this.warnings = Object.freeze([...(parts.warnings ?? [])])
    this.#defaultDecision = Object.freeze({
      effect: parts.defaults.effect,
      rule: 'default',
      reason: parts.defaults.reason,
      approval: parts.defaults.approval,
      masks: NONE,
      matched: NONE,
      revision: parts.revision,
      tags: NONE,
    })
    // A rule or mask reading `now` or `session` can decide differently for the same command.
    const volatile = (e: unknown) => e !== null && volatileExpressions.has(e as object)
    const size = parts.decisionCache ?? 0
    this.#cache =
      size > 0 && !parts.rules.some((r) => volatile(r.when)) && !parts.masks.some((m) => volatile(m.when))
        ? new DecisionCache(size)
        : undefined
    Object.freeze(this)
  }

  /** Whether decide() reuses decisions (off when a rule or mask reads `now` or `session`, or by option). */
  get decisionCacheEnabled(): boolean {
    return this.#cache !== undefined
  }

  /** Decides one request (a partial request is completed with empty fields). Never throws. */
  decide(request: Request | RequestInput): Decision {
    const cache = this.#cache
    if (cache === undefined || request === null || typeof request !== 'object' || Array.isArray(request))
      return this.#decide(request)
    // Each field is read once: the key and (on a miss) the decision see the same values.
    const r = request as RequestInput
    const fields = {
      principal: r.principal,
      resource: r.resource,
      action: r.action,
      sql: r.sql,
      shell: r.shell,
      sftp: r.sftp,
      forward: r.forward,
      kube: r.kube,
      http: r.http,
      tool: r.tool,
      session: r.session,
      flow: r.flow,
      now: r.now,
    }
    const key = cache.key(fields)
    if (key === undefined) return this.#decide(fields)
    const hit = cache.get(key)
    if (hit !== undefined) return hit
    const decision = this.#decide(fields)
    cache.set(key, decision)
    return decision
  }

  #decide(request: Request | RequestInput): Decision {
    // Not a request at all (null, a string, an array): deny, whatever the default says.
    if (request === null || typeof request !== 'object' || Array.isArray(request))
      return this.#deny('error:request', 'malformed request: expected an object', NONE)
    let ctx: CelContext
    try {
      ctx = completeRequest(request as RequestInput, this.#clock)
    } catch (e) {
      const field = e instanceof RequestShapeError ? e.field : 'request'
      return this.#deny('error:request', `malformed request: field "${field}" has the wrong type`, NONE)
    }
    const kind = ctx.resource.kind
    const name = ctx.resource.name
    const rules = this.#rules
    let matched: MatchedRule[] | undefined
    let decider: CompiledRule | undefined
    let decidingError: string | undefined
    let tags: string[] | undefined
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i]
      if (rule.resources !== null && !appliesTo(rule.resources, kind, name)) continue
      let error: string | undefined
      if (rule.when !== null) {
        let result: unknown
        try {
          result = rule.when(ctx)
        } catch (e) {
          error = describeError(e)
        }
        if (error === undefined && result !== true) continue
      }
      matched ??= []
      matched.push(
        error === undefined
          ? rule.hit
          : Object.freeze({ rule: rule.name, effect: rule.effect, shadow: rule.shadow, error }),
      )
      if (rule.shadow) continue
      if (error === undefined && rule.tags.length > 0) {
        tags ??= []
        for (const t of rule.tags) if (!tags.includes(t)) tags.push(t)
      }
      // An erroring allow rule simply does not allow; an erroring deny/approve rule applies.
      if (error !== undefined && rule.effect === 'allow') continue
      if (
        decider === undefined ||
        PRECEDENCE[rule.effect] > PRECEDENCE[decider.effect] ||
        // at equal precedence, a rule that really matched names the decision over one that errored
        (PRECEDENCE[rule.effect] === PRECEDENCE[decider.effect] &&
          decidingError !== undefined &&
          error === undefined)
      ) {
        decider = rule
        decidingError = error
      }
    }
    if (decider === undefined) {
      if (matched === undefined && this.#masks.length === 0) return this.#defaultDecision
      const d = this.#defaults
      const masks = this.#collectMasks(ctx, kind, name, d.effect === 'deny')
      if (matched === undefined && masks === NONE) return this.#defaultDecision
      return Object.freeze({
        effect: d.effect,
        rule: 'default',
        reason: d.reason,
        approval: d.approval,
        masks,
        matched: matched ? Object.freeze(matched) : NONE,
        revision: this.revision,
        tags: d.effect === 'deny' || tags === undefined ? NONE : Object.freeze(tags),
      })
    }
    if (decidingError !== undefined) {
      // Fail closed: a deny rule that errored denies; an approve rule that errored still needs approval.
      if (decider.effect === 'deny') {
        return this.#deny(
          `error:${decider.name}`,
          `rule ${decider.name} failed at evaluation (${decidingError})`,
          matched ?? NONE,
        )
      }
    }
    const masks = this.#collectMasks(ctx, kind, name, decider.effect === 'deny')
    return Object.freeze({
      effect: decider.effect,
      rule: decider.name,
      reason:
        decidingError === undefined
          ? decider.reason
          : `${decider.reason} (rule failed at evaluation: ${decidingError})`,
      approval: decider.approval,
      masks,
      matched: matched ? Object.freeze(matched) : NONE,
      revision: this.revision,
      tags: decider.effect === 'deny' || tags === undefined ? NONE : Object.freeze(tags),
    })
  }

  /**
   * The decision for `request` and, per rule, whether it matched and, for one that did not, the
   * operands of its `when` that decided (each top-level `&&`/`||` operand evaluated on its own).
   * For tools (`warden explain`): slower than decide(), which it also calls.
   */
  explain(request: Request | RequestInput): PolicyExplanation {
    const decision = this.decide(request)
    let ctx: CelContext
    try {
      ctx = completeRequest(request as RequestInput, this.#clock)
    } catch {
      return { decision, rules: [] }
    }
    const env = explainEnvironment()
    const rules = this.#rules.map((rule) => {
      const inScope = appliesTo(rule.resources, ctx.resource.kind, ctx.resource.name)
      let outcome: { value?: unknown; error?: string } = {}
      if (inScope && rule.when !== null) {
        try {
          outcome = { value: rule.when(ctx) }
        } catch (e) {
          outcome = { error: describeError(e) }
        }
      }
      return explainRule(rule, ctx, inScope, outcome, env)
    })
    return { decision, rules }
  }

  /**
   * The mask rules that apply. A denied command returns nothing to mask, but its audit record
   * holds its text: it gets the detector masks only, which keep secrets typed into it out of the log.
   */
  #collectMasks(ctx: CelContext, kind: string, name: string, denied: boolean): readonly MaskRule[] {
    const all = this.#masks
    if (all.length === 0) return NONE
    let out: MaskRule[] | undefined
    for (let i = 0; i < all.length; i++) {
      const m = all[i]
      if (m.shadow) continue
      if (denied && m.rule.detectors.length === 0) continue
      if (m.resources !== null && !appliesTo(m.resources, kind, name)) continue
      if (m.when !== null) {
        let result: unknown
        try {
          result = m.when(ctx)
        } catch {
          result = true // fail closed: a mask whose condition errors still masks
        }
        if (result !== true) continue
      }
      out ??= []
      out.push(m.rule)
    }
    return out ? Object.freeze(out) : NONE
  }

  #deny(rule: string, reason: string, matched: readonly MatchedRule[]): Decision {
    return Object.freeze({
      effect: 'deny',
      rule,
      reason,
      approval: null,
      masks: NONE,
      matched: matched === NONE ? NONE : Object.freeze(matched),
      revision: this.revision,
      tags: NONE,
    })
  }
}
