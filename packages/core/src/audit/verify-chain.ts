import { readFile } from 'node:fs/promises'
import { type ChainVerification, verifyLines } from '../internal/verify-lines.js'

export type { ChainVerification }

/**
 * Verifies a `jsonlSink` file: every record's hash, the `prev` links and `seq` continuity. Returns
 * the first bad `seq` (and line) for an edited, removed, reordered or inserted record.
 * The chain proves integrity relative to its head: anchor `head.hash` elsewhere (a ticket, a
 * separate log) to also detect a rewritten tail.
 * @example
 * const result = await verifyChain('audit.jsonl')
 * if (!result.ok) console.error(`audit chain broken at seq ${result.seq}: ${result.reason}`)
 */
export async function verifyChain(file: string): Promise<ChainVerification> {
  const text = await readFile(file, 'utf8')
  return verifyLines(text.split('\n'))
}
