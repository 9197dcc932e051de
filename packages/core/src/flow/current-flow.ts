import type { FlowFacts } from '@warden/policy'
import { EMPTY_FLOW, flowStorage, sessionChain } from './flow-chain.js'

/**
 * What the current causal chain has seen so far (`flow.reads`, `flow.tags`): the chain of the
 * enclosing `session.run` or guarded tool call, else the given session's own chain, else empty.
 * Exported from `@warden/core`. Never throws.
 * @example
 * await session.run(async () => { await pool.query('SELECT * FROM customers'); currentFlow().reads })
 */
export function currentFlow(session?: object): FlowFacts {
  const chain = flowStorage.getStore() ?? (session === undefined ? undefined : sessionChain(session))
  return chain === undefined ? EMPTY_FLOW : chain.facts
}
