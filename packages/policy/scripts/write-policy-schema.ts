// Regenerates packages/policy/policy.schema.json from the zod document schema:
//   node --conditions=warden-source --import tsx packages/policy/scripts/write-policy-schema.ts
import { writeFileSync } from 'node:fs'
import { policyJsonSchema } from '../src/internal/policy-json-schema.js'

const file = new URL('../policy.schema.json', import.meta.url)
writeFileSync(file, `${JSON.stringify(policyJsonSchema(), null, 2)}\n`)
console.log(`wrote ${file.pathname}`)
