import { createHash } from 'node:crypto'
import type { ApprovalRequirement, Effect, MaskRule } from './decision.js'
import { PolicyError, type WardenErrorCode } from './errors.js'
import { createRequestEnvironment } from './internal/cel.js'
import { type Attempt, checkWhens, compileWhen, rememberShapeless } from './internal/compile-when.js'
import { type PolicyDocumentParsed, policyDocumentSchema } from './internal/document-schema.js'
import { parseDuration } from './internal/duration.js'
import { checkColumnGlob, compileResourceGlob, type ResourceGlob } from './internal/glob.js'
import { schemaErrors } from './internal/schema-errors.js'
import { type DocPath, formatPath, SourceText } from './internal/source-map.js'
import { type CompiledMask, type CompiledRule, Policy, type PolicyWarning } from './policy.js'

/** A policy document as an in-memory object (the YAML/JSON shape). */
export interface PolicyDocument {
  description?: string
  shadow?: boolean
  defaults?: { effect?: Effect; reason?: string; approval?: ApprovalDoc }
  rules?: PolicyRuleDocument[]
  masks?: PolicyMaskDocument[]
}
export interface PolicyRuleDocument {
  name: string
  description?: string
  resources?: string[]
  when?: string
  effect: Effect
  reason?: string
  approval?: ApprovalDoc
  shadow?: boolean
  tags?: string[]
}
export interface PolicyMaskDocument {
  name: string
  description?: string
  resources?: string[]
  when?: string
  columns?: string[]
  detectors?: MaskRule['detectors'][number][]
  strategy: MaskRule['strategy']
  tags?: string[]
  shadow?: boolean
}

/** One input of a policy set: YAML/JSON text or an object, with the name errors point at. */
export type PolicySource = { source: string; text: string } | { source: string; document: PolicyDocument }

export interface CompilePolicyOptions {
  /** Name used in errors (a file path); defaults to `<policy>`. */
  source?: string
  /** Clock for `now` when the request has none (test seam). */
  clock?: () => Date
  /**
   * How many decisions `decide()` keeps for requests it sees again (LRU, per Policy; default 1000;
   * 0 turns it off). Used only when no rule or mask reads `now` or `session`, and only for requests
   * whose parts are deep-frozen plain data (as core and the describers pass them).
   */
  decisionCache?: number
}

const DEFAULT_DECISION_CACHE = 1000

const DEFAULT_APPROVAL_TIMEOUT_MS = 15 * 60_000

/**
 * Compiles one policy document (YAML/JSON text or object), or several sources, into a `Policy`.
 * Every CEL expression is parsed and type-checked against the request model now.
 * Exported from `@warden/policy`. Throws `PolicyError` (`ERR_POLICY_*`).
 * @example const policy = compilePolicy('rules: [{name: all, effect: allow}]', { source: 'inline.yaml' })
 */
export function compilePolicy(
  input: string | PolicyDocument | readonly PolicySource[],
  options: CompilePolicyOptions = {},
): Policy {
  checkOptions(options, 'compilePolicy')
  const source = options.source ?? '<policy>'
  checkInput(input)
  const sources: readonly PolicySource[] = Array.isArray(input)
    ? (input as readonly PolicySource[])
    : typeof input === 'string'
      ? [{ source, text: input }]
      : [{ source, document: input as PolicyDocument }]
  return compileSources(sources, options)
}

const inputError = (message: string) => new PolicyError('ERR_POLICY_INPUT', message)

/** Callers from plain JavaScript (or `as never`) get a PolicyError, never a TypeError, for a wrong argument. */
function checkInput(input: unknown): void {
  if (typeof input === 'string') return
  if (Array.isArray(input)) {
    input.forEach((s: unknown, i) => {
      const where = `compilePolicy: sources[${i}]`
      if (s === null || typeof s !== 'object' || Array.isArray(s))
        throw inputError(`${where} must be an object {source, text} or {source, document}`)
      const o = s as Record<string, unknown>
      if (typeof o.source !== 'string') throw inputError(`${where}.source must be a string (a file name)`)
      if ('text' in o) {
        if (typeof o.text !== 'string') throw inputError(`${where}.text must be a string`)
      } else if (!('document' in o) || o.document === null || typeof o.document !== 'object')
        throw inputError(`${where} needs text (a string) or document (an object)`)
    })
    return
  }
  // ERR_POLICY_SCHEMA, as before: a scalar is a policy document of the wrong shape.
  if (input === null || typeof input !== 'object')
    throw new PolicyError(
      'ERR_POLICY_SCHEMA',
      `compilePolicy: expected policy text, a policy document object or a list of sources, got ${input === null ? 'null' : typeof input}`,
    )
}

/** Options shared by compilePolicy and loadPolicy. */
export function checkOptions(options: unknown, caller: string): void {
  if (options === null || typeof options !== 'object')
    throw inputError(`${caller}: options must be an object`)
  const o = options as Record<string, unknown>
  if (o.source !== undefined && typeof o.source !== 'string')
    throw inputError(`${caller}: options.source must be a string`)
  if (o.clock !== undefined && typeof o.clock !== 'function')
    throw inputError(`${caller}: options.clock must be a function returning a Date`)
  if (
    o.decisionCache !== undefined &&
    (typeof o.decisionCache !== 'number' || !Number.isInteger(o.decisionCache) || o.decisionCache < 0)
  )
    throw inputError(`${caller}: options.decisionCache must be an integer >= 0 (0 turns it off)`)
}

interface Loaded {
  source: string
  text?: SourceText
  doc: PolicyDocumentParsed
  digest: string
}

function compileSources(sources: readonly PolicySource[], options: CompilePolicyOptions): Policy {
  if (sources.length === 0) throw new PolicyError('ERR_POLICY_IO', 'no policy sources given')
  const env = createRequestEnvironment()
  // Keep checking after an error so a load reports every problem of the set (PolicyError.errors).
  const errors: PolicyError[] = []
  const attempt: Attempt = <T>(fn: () => T, fallback: T, after?: (e: PolicyError) => void): T => {
    try {
      return fn()
    } catch (e) {
      if (!(e instanceof PolicyError)) throw e
      errors.push(...(e.errors ?? [e]))
      after?.(e)
      return fallback
    }
  }
  const warnings: PolicyWarning[] = []
  const loaded = sources.flatMap((s) =>
    attempt(
      () => [parseSource(s)],
      [] as Loaded[],
      // a document of the wrong shape: still type-check its `when`s, so one pass shows every error
      (e) => checkWhens(e, { env, warnings: [] }, attempt),
    ),
  )
  const rules: CompiledRule[] = []
  const masks: CompiledMask[] = []
  const ruleNames = new Map<string, string>()
  const maskNames = new Map<string, string>()
  let defaults:
    | { from: Loaded; effect: Effect; reason: string; approval: ApprovalRequirement | null }
    | undefined

  for (const l of loaded) {
    const err = errorAt(l)
    const docDefaults = l.doc.defaults
    if (docDefaults)
      attempt(() => {
        const effect = docDefaults.effect
        const reason = docDefaults.reason ?? `no rule matched (default ${effect})`
        if (docDefaults.approval !== undefined && effect !== 'approve')
          toApproval(docDefaults.approval, ['defaults', 'approval'], err)
        const approval =
          effect === 'approve' ? toApproval(docDefaults.approval, ['defaults', 'approval'], err) : null
        if (defaults && (defaults.effect !== effect || defaults.reason !== reason)) {
          throw err(
            'ERR_POLICY_DUPLICATE',
            `defaults are already set by ${defaults.from.source}; set them in one file`,
            ['defaults'],
          )
        }
        defaults ??= { from: l, effect, reason, approval }
      }, undefined)
    const cel = { env, l, warnings }
    l.doc.rules.forEach((r, i) => {
      const path = ['rules', i]
      const prev = ruleNames.get(r.name)
      if (prev !== undefined)
        errors.push(
          err('ERR_POLICY_DUPLICATE', `rule "${r.name}" is already defined in ${prev}`, [...path, 'name']),
        )
      ruleNames.set(r.name, prev ?? l.source)
      // An approval block on an allow or deny rule does nothing, but is still checked: a bad timeout
      // there would otherwise surface only when someone switches the rule to approve.
      const approval = attempt(
        () =>
          r.approval !== undefined || r.effect === 'approve'
            ? toApproval(r.approval, [...path, 'approval'], err)
            : null,
        null,
      )
      const shadow = (l.doc.shadow ?? false) || (r.shadow ?? false)
      rules.push({
        name: r.name,
        effect: r.effect,
        reason: r.reason ?? (r.effect === 'allow' ? `allowed by ${r.name}` : `${r.effect} by ${r.name}`),
        approval: r.effect === 'approve' ? approval : null,
        shadow,
        tags: Object.freeze([...(r.tags ?? [])]),
        source: l.source,
        resources: attempt(() => compileResources(r.resources, [...path, 'resources'], err), null),
        when: r.when === undefined ? null : attempt(() => compileWhen(cel, r.when!, [...path, 'when']), null),
        whenText: r.when ?? null,
        resourcePatterns: r.resources ? Object.freeze([...r.resources]) : null,
        hit: Object.freeze({ rule: r.name, effect: r.effect, shadow }),
      })
    })
    l.doc.masks.forEach((m, i) => {
      const path = ['masks', i]
      const prev = maskNames.get(m.name)
      if (prev !== undefined)
        errors.push(
          err('ERR_POLICY_DUPLICATE', `mask "${m.name}" is already defined in ${prev}`, [...path, 'name']),
        )
      maskNames.set(m.name, prev ?? l.source)
      ;(m.columns ?? []).forEach((c, j) => {
        const problem = checkColumnGlob(c)
        if (problem) errors.push(err('ERR_POLICY_GLOB', problem, [...path, 'columns', j]))
      })
      masks.push({
        name: m.name,
        shadow: (l.doc.shadow ?? false) || (m.shadow ?? false),
        source: l.source,
        resources: attempt(() => compileResources(m.resources, [...path, 'resources'], err), null),
        when: m.when === undefined ? null : attempt(() => compileWhen(cel, m.when!, [...path, 'when']), null),
        rule: Object.freeze({
          name: m.name,
          columns: Object.freeze([...(m.columns ?? [])]),
          detectors: Object.freeze([...(m.detectors ?? [])]),
          strategy: m.strategy,
          tags: Object.freeze([...(m.tags ?? [])]),
        }),
      })
    })
  }

  if (errors.length > 0) throw allOf(errors)
  const revision =
    loaded.length === 1
      ? `sha256:${loaded[0].digest}`
      : `sha256:${createHash('sha256')
          .update(loaded.map((l) => l.digest).join('\n'))
          .digest('hex')}`
  return new Policy({
    rules,
    masks,
    defaults: defaults
      ? { effect: defaults.effect, reason: defaults.reason, approval: defaults.approval }
      : { effect: 'deny', reason: 'no rule matched (default deny)', approval: null },
    revision,
    sources: loaded.map((l) => l.source),
    clock: options.clock ?? (() => new Date()),
    warnings,
    decisionCache: options.decisionCache ?? DEFAULT_DECISION_CACHE,
  })
}

type ErrorAt = (code: WardenErrorCode, detail: string, path: DocPath, key?: string) => PolicyError

function errorAt(l: Loaded): ErrorAt {
  return (code, detail, path, key) => {
    if (!l.text) return new PolicyError(code, detail, { file: l.source, path: formatPath(path) })
    const pos = l.text.position(l.text.offsetOf(path, key))
    return new PolicyError(code, detail, { file: l.source, ...pos, path: formatPath(path) })
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(
          Object.keys(x)
            .sort()
            .map((k) => [k, x[k]]),
        )
      : x,
  )
}

function parseSource(s: PolicySource): Loaded {
  let raw: unknown
  let text: SourceText | undefined
  let digest: string
  if ('text' in s) {
    if (typeof s.text !== 'string')
      throw new PolicyError('ERR_POLICY_YAML', 'policy text must be a string', { file: s.source })
    text = new SourceText(s.text)
    const e = text.doc.errors[0]
    if (e) {
      const pos = text.position(e.pos[0])
      throw new PolicyError('ERR_POLICY_YAML', `invalid YAML: ${e.message.split('\n')[0]}`, {
        file: s.source,
        ...pos,
      })
    }
    try {
      raw = text.doc.toJS({ maxAliasCount: 100 })
    } catch (e) {
      // e.g. an alias bomb ("billion laughs") or an unresolved alias
      throw new PolicyError(
        'ERR_POLICY_YAML',
        `invalid YAML: ${(e as Error).message.split('\n')[0]}`,
        { file: s.source },
        { cause: e },
      )
    }
    digest = sha256(s.text)
  } else {
    raw = s.document
    try {
      digest = sha256(canonicalJson(s.document))
    } catch (e) {
      throw new PolicyError(
        'ERR_POLICY_SCHEMA',
        'policy object is not JSON-serialisable',
        { file: s.source },
        { cause: e },
      )
    }
  }
  if (raw === null || raw === undefined) {
    throw new PolicyError('ERR_POLICY_SCHEMA', 'the policy document is empty', {
      file: s.source,
      ...(text ? text.position(0) : {}),
    })
  }
  const parsed = policyDocumentSchema.safeParse(raw)
  if (!parsed.success) {
    const error = allOf(schemaErrors(s.source, text, parsed.error))
    rememberShapeless(error, { source: s.source, text, raw })
    throw error
  }
  return { source: s.source, text, doc: parsed.data, digest }
}

interface ApprovalDoc {
  approvers?: string[]
  minApprovals?: number
  anyOf?: { approvers?: string[]; minApprovals?: number }[]
  timeout?: string
}

function toApproval(a: ApprovalDoc | undefined, path: DocPath, err: ErrorAt): ApprovalRequirement {
  let timeout = DEFAULT_APPROVAL_TIMEOUT_MS
  if (a?.timeout !== undefined) {
    const ms = parseDuration(a.timeout)
    if (ms === undefined) {
      throw err(
        'ERR_POLICY_DURATION',
        `"${a.timeout}" is not a duration (use e.g. 30s, 15m, 1h30m; at most 366d)`,
        [...path, 'timeout'],
      )
    }
    timeout = ms
  }
  if (a?.anyOf !== undefined && (a.approvers?.length || a.minApprovals !== undefined))
    throw err(
      'ERR_POLICY_SCHEMA',
      'give either "anyOf" (approver groups) or "approvers"/"minApprovals", not both',
      path,
    )
  const docs = a?.anyOf ?? [{ approvers: a?.approvers, minApprovals: a?.minApprovals }]
  const groups = docs.map((g) =>
    Object.freeze({ approvers: Object.freeze([...(g.approvers ?? [])]), minApprovals: g.minApprovals ?? 1 }),
  )
  const approvers = [...new Set(groups.flatMap((g) => g.approvers))]
  return Object.freeze({ approvers: Object.freeze(approvers), groups: Object.freeze(groups), timeout })
}

function compileResources(
  globs: string[] | undefined,
  path: DocPath,
  err: ErrorAt,
): readonly ResourceGlob[] | null {
  if (globs === undefined) return null
  return globs.map((g, i) => {
    const compiled = compileResourceGlob(g)
    if (typeof compiled === 'string') throw err('ERR_POLICY_GLOB', compiled, [...path, i])
    return compiled
  })
}

/** The first error, carrying every error found (non-enumerable, so JSON.stringify stays finite). */
function allOf(errors: readonly PolicyError[]): PolicyError {
  const first = errors[0]
  if (errors.length > 1)
    Object.defineProperty(first, 'errors', { value: Object.freeze([...errors]), configurable: true })
  return first
}
