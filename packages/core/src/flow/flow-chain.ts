// One causal chain of commands (one agent run, one tool call and what it calls) and the async
// context that carries it. Core-internal: the pipeline reads and extends it, guardTool starts one.
import { AsyncLocalStorage } from 'node:async_hooks'
import type { FlowFacts } from '@warden/policy'

const NONE: readonly string[] = Object.freeze([])

/** The flow of a chain that has seen nothing yet. Shared and frozen. */
export const EMPTY_FLOW: FlowFacts = Object.freeze({ reads: NONE, tags: NONE })

/**
 * What one causal chain has seen. `facts` is an immutable snapshot, replaced (copy-on-write) only
 * when a command adds something new, so a request can hold it without copying.
 *
 * A child chain (a tool call inside an agent run) starts from its parent's snapshot and reports
 * what it sees up to its parent: later commands of the run see it, but a sibling running at the
 * same time does not (it never saw that data).
 */
export class FlowChain {
  facts: FlowFacts
  readonly #parent: FlowChain | undefined

  constructor(parent?: FlowChain) {
    this.#parent = parent
    this.facts = parent === undefined ? EMPTY_FLOW : parent.facts
  }

  /** Adds reads and tags (deduplicated) to this chain and its ancestors. */
  add(reads: readonly string[], tags: readonly string[]): void {
    for (let chain: FlowChain | undefined = this; chain !== undefined; chain = chain.#parent) {
      const current = chain.facts
      const nextReads = merge(current.reads, reads)
      const nextTags = merge(current.tags, tags)
      if (nextReads !== current.reads || nextTags !== current.tags) {
        chain.facts = Object.freeze({ reads: nextReads, tags: nextTags })
      }
    }
  }
}

// Returns `into` itself when nothing is new: the common case allocates nothing.
function merge(into: readonly string[], more: readonly string[]): readonly string[] {
  let next: string[] | undefined
  for (let i = 0; i < more.length; i++) {
    const v = more[i]
    if (into.includes(v) || next?.includes(v)) continue
    next ??= [...into]
    next.push(v)
  }
  return next === undefined ? into : Object.freeze(next)
}

/** The chain of the current async context (inside `session.run` or a guarded tool call). */
export const flowStorage = new AsyncLocalStorage<FlowChain>()
/** Whether any chain was entered in this process: until one is, no async context can hold one. */
let entered = false

// Commands made with a session directly, outside any run: the session itself is their chain.
const sessionChains = new WeakMap<object, FlowChain>()

/** The chain of commands a session makes outside any `session.run` or guarded tool call. */
export function sessionChain(session: object): FlowChain {
  let chain = sessionChains.get(session)
  if (chain === undefined) {
    chain = new FlowChain()
    sessionChains.set(session, chain)
  }
  return chain
}

/** The chain a command made here belongs to: the active one, or the session's own. */
export function chainFor(session: object): FlowChain {
  // Commands on an explicit session in a process that never ran a chain: no AsyncLocalStorage lookup.
  if (!entered) return sessionChain(session)
  return flowStorage.getStore() ?? sessionChain(session)
}

/** Runs fn in a new chain: a child of the active chain, or of the session's own chain when none is active. */
export function runInChildChain<R>(session: object, fn: () => R): R {
  entered = true
  return flowStorage.run(new FlowChain(chainFor(session)), fn)
}

/** Runs fn in a new chain that is a child of the active chain, or a fresh root (session.run). */
export function runInRunChain<R>(fn: () => R): R {
  entered = true
  return flowStorage.run(new FlowChain(flowStorage.getStore()), fn)
}
