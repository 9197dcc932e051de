import type { Decision, ResourceRef } from '@warden/policy'
import type { Masker } from '../masking/mask-plan.js'
import type { Command } from '../session.js'
import type { FlowChain } from './flow-chain.js'
import { flowReads } from './flow-reads.js'

const NONE: readonly string[] = Object.freeze([])

/**
 * Adds what a command that ran (ok or failed part-way) contributes to its chain: what it read, the
 * tags of the enforcing rules that matched, and the tags of the masks that masked something.
 * Core-internal; called by the pipeline only, never for a refused command.
 */
export function recordFlow(
  chain: FlowChain,
  command: Command,
  resource: ResourceRef,
  decision: Decision,
  masker: (Masker & { tags(): readonly string[] }) | null,
): void {
  const reads = flowReads(command, resource)
  const ruleTags = decision.tags ?? NONE
  if (reads.length > 0 || ruleTags.length > 0) chain.add(reads, ruleTags)
  if (masker !== null) {
    const maskTags = masker.tags()
    if (maskTags.length > 0) chain.add(NONE, maskTags)
  }
}
