// The decision cache of one Policy (issue 20 part 1). A decision depends only on the request's
// content (decide is pure); when no rule or mask reads `now` or `session` (told from the compiled
// CEL ASTs), it depends only on principal, resource, action, the fact families and flow. Each of
// those parts is keyed by the identity of a deep-frozen plain-data object: such an object cannot
// change, so identity implies content. A part that is not deep-frozen plain data (a mutable object,
// a Date, a getter, a class instance) makes the request uncacheable: it is decided afresh.
// The cache lives in the Policy instance, so another policy (another revision) never sees it.
import type { Decision } from '../decision.js'

/** The parts of a request a non-volatile decision depends on, in key order. */
const PARTS = [
  'principal',
  'resource',
  'sql',
  'shell',
  'sftp',
  'forward',
  'kube',
  'http',
  'tool',
  'flow',
] as const

const MAX_DEPTH = 64

/** Compiled `when`s whose AST reads `now` or `session` (set by compilePolicy). */
export const volatileExpressions = new WeakSet<object>()

/** Whether a CEL AST reads `now` or `session` (any identifier of that name, conservatively). */
export function readsVolatile(ast: unknown): boolean {
  const seen = new Set<object>()
  let found = false
  const visit = (n: unknown): void => {
    if (found || n === null || typeof n !== 'object' || seen.has(n)) return
    seen.add(n)
    if (Array.isArray(n)) {
      for (const x of n) visit(x)
      return
    }
    const node = n as { op?: unknown; args?: unknown; meta?: unknown }
    if (node.op === 'id' && (node.args === 'now' || node.args === 'session')) {
      found = true
      return
    }
    // Every property that may hold a node: args, and macro metadata (the original call).
    for (const k of Object.keys(node)) visit((node as Record<string, unknown>)[k])
    if (node.meta !== undefined) visit(node.meta)
  }
  visit(ast)
  return found
}

export class DecisionCache {
  readonly #max: number
  /** Insertion order is recency order: a hit is moved to the end, the oldest is evicted. */
  readonly #entries = new Map<string, Decision>()
  /** A number per deep-frozen object; never reused, so a collected object's number cannot come back. */
  readonly #ids = new WeakMap<object, number>()
  #next = 1

  constructor(max: number) {
    this.#max = max
  }

  get size(): number {
    return this.#entries.size
  }

  /**
   * The key of a request whose fields were read once into `fields`, or undefined when some part
   * is not cacheable. `session` and `now` are not part of it (the policy does not read them) but
   * must be of a shape decide() accepts, or the request is decided afresh (and denied there).
   */
  key(fields: RequestFields): string | undefined {
    if (typeof fields.action !== 'string') return undefined
    if (!validSession(fields.session) || !validNow(fields.now)) return undefined
    let key = ''
    for (let i = 0; i < PARTS.length; i++) {
      const v = fields[PARTS[i]]
      if (v === undefined || v === null) {
        key += '-|'
        continue
      }
      if (typeof v !== 'object') return undefined
      const id = this.#idOf(v)
      if (id === undefined) return undefined
      key += `${id}|`
    }
    // The action last: every part before it is a number or '-', so the key is unambiguous.
    return key + fields.action
  }

  get(key: string): Decision | undefined {
    const hit = this.#entries.get(key)
    if (hit !== undefined) {
      this.#entries.delete(key)
      this.#entries.set(key, hit)
    }
    return hit
  }

  set(key: string, decision: Decision): void {
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next()
      if (!oldest.done) this.#entries.delete(oldest.value)
    }
    this.#entries.set(key, decision)
  }

  #idOf(v: object): number | undefined {
    const known = this.#ids.get(v)
    if (known !== undefined) return known
    if (!isDeepFrozenData(v)) return undefined
    const id = this.#next++
    this.#ids.set(v, id)
    return id
  }
}

export interface RequestFields {
  readonly principal: unknown
  readonly resource: unknown
  readonly action: unknown
  readonly sql: unknown
  readonly shell: unknown
  readonly sftp: unknown
  readonly forward: unknown
  readonly kube: unknown
  readonly http: unknown
  readonly tool: unknown
  readonly session: unknown
  readonly flow: unknown
  readonly now: unknown
}

/** Objects found deep-frozen plain data: they cannot change, so the answer cannot either. */
const verified = new WeakSet<object>()

/** Whether `v` can never change: see deepFrozenData. Remembered per object when true. */
export function isDeepFrozenData(v: object): boolean {
  if (verified.has(v)) return true
  if (!deepFrozenData(v, 0)) return false
  verified.add(v)
  return true
}

/**
 * Frozen plain objects and arrays all the way down, with data properties only (a frozen object's
 * getter can still return something new each time) and primitive leaves. Anything else (a Date,
 * whose time can be set even when frozen; a Map; a class instance) is not.
 */
function deepFrozenData(v: unknown, depth: number): boolean {
  if (v === null || v === undefined) return true
  const t = typeof v
  if (t === 'string' || t === 'number' || t === 'boolean' || t === 'bigint') return true
  if (t !== 'object' || depth > MAX_DEPTH) return false
  const o = v as object
  if (verified.has(o)) return true
  if (!Object.isFrozen(o)) return false
  const proto = Object.getPrototypeOf(o)
  if (proto !== Object.prototype && proto !== null && proto !== Array.prototype) return false
  for (const k of Reflect.ownKeys(o)) {
    const d = Object.getOwnPropertyDescriptor(o, k)
    if (d === undefined || !('value' in d)) return false
    if (!deepFrozenData(d.value, depth + 1)) return false
  }
  return true
}

function validSession(s: unknown): boolean {
  if (s === undefined || s === null) return true
  if (typeof s !== 'object' || Array.isArray(s)) return false
  const o = s as { id?: unknown; startedAt?: unknown; operations?: unknown }
  const id = o.id
  const at = o.startedAt
  const ops = o.operations
  return (
    (id === undefined || id === null || typeof id === 'string') &&
    (at === undefined || at === null || (at instanceof Date && !Number.isNaN(at.getTime()))) &&
    (ops === undefined ||
      ops === null ||
      typeof ops === 'bigint' ||
      (typeof ops === 'number' && Number.isInteger(ops)))
  )
}

function validNow(n: unknown): boolean {
  return n === undefined || n === null || (n instanceof Date && !Number.isNaN(n.getTime()))
}
