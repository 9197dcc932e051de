// The published JSON Schema for policy documents (@warden/policy/policy.schema.json).
import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Ajv2020 from 'ajv/dist/2020.js'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { policyJsonSchema } from '../src/internal/policy-json-schema.js'

const require = createRequire(import.meta.url)
// through the package's exports map, as an editor or a user would resolve it
const published = require('@warden/policy/policy.schema.json')
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(published)
const examples = fileURLToPath(new URL('../../../examples/policies/', import.meta.url))

describe('policy.schema.json', () => {
  it('is what the zod document schema generates (rerun scripts/write-policy-schema.ts)', () => {
    expect(published).toEqual(JSON.parse(JSON.stringify(policyJsonSchema())))
  })

  const files = readdirSync(examples).filter((f) => f.endsWith('.yaml') && !f.endsWith('_test.yaml'))
  it.each(files)('accepts examples/policies/%s', (file) => {
    const ok = validate(parse(readFileSync(join(examples, file), 'utf8')))
    expect(validate.errors ?? []).toEqual([])
    expect(ok).toBe(true)
  })

  it.each([
    ['a misspelt key', { rules: [{ name: 'r', efect: 'allow' }] }, 'additionalProperties'],
    ['an unknown effect', { rules: [{ name: 'r', effect: 'permit' }] }, 'enum'],
    ['a name with spaces', { rules: [{ name: 'my rule', effect: 'allow' }] }, 'pattern'],
    ['a mask with neither columns nor detectors', { masks: [{ name: 'm', strategy: 'redact' }] }, 'anyOf'],
    [
      'a mask with an empty column list',
      { masks: [{ name: 'm', strategy: 'redact', columns: [] }] },
      'anyOf',
    ],
    ['an unknown top-level key', { rule: [] }, 'additionalProperties'],
    [
      'minApprovals out of range',
      { rules: [{ name: 'r', effect: 'approve', approval: { minApprovals: 0 } }] },
      'minimum',
    ],
  ])('rejects %s', (_what, document, keyword) => {
    expect(validate(document)).toBe(false)
    expect(validate.errors?.map((e) => e.keyword)).toContain(keyword)
  })
})
