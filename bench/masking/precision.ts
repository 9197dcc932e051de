// Per-detector precision and recall on the seeded labelled set (labelled-set.ts): each detector
// alone, with `redact`, over every item. Prints a markdown table for packages/core/docs/masking.md.
// Run: npx tsx bench/masking/precision.ts
import { type CommandMasker, createMaskingEngine } from '@warden/core'
import type { DetectorName } from '@warden/policy'
import { labelledSet, score } from './labelled-set.js'

const engine = createMaskingEngine({ key: 'bench-precision-key-0001' })
const maskers = new Map<DetectorName, CommandMasker>()
const items = labelledSet()
const scores = score(items, (detector, text) => {
  let m = maskers.get(detector)
  if (m === undefined) {
    m = engine.masker([{ name: detector, columns: [], detectors: [detector], strategy: 'redact', tags: [] }])
    maskers.set(detector, m)
  }
  return m.text(text)
})
console.log(`Seed 19, ${items.length} items (200 positives and 200 near misses per detector).\n`)
console.log('| detector | recall | precision | near misses touched |')
console.log('| --- | --- | --- | --- |')
for (const s of scores)
  console.log(
    `| \`${s.detector}\` | ${s.recall.toFixed(3)} | ${s.precision.toFixed(3)} | ${s.touched} / ${s.nearMisses} |`,
  )
