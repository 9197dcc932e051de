// The JSON Schema of policy documents, generated from the zod schema that loading enforces, for
// editors (yaml-language-server) and other tools. Published as @warden/policy/policy.schema.json.
import { z } from 'zod'
import { policyDocumentSchema } from './document-schema.js'

export function policyJsonSchema(): Record<string, unknown> {
  // io 'input': fields with defaults (rules, masks, approvers) are optional, as authors write them
  const schema = z.toJSONSchema(policyDocumentSchema, { io: 'input', unrepresentable: 'any' })
  // zod refinements do not export: a mask needs a non-empty "columns" or "detectors"
  const mask = (schema.properties?.masks as { items?: Record<string, unknown> } | undefined)?.items
  if (mask !== undefined)
    mask.anyOf = ['columns', 'detectors'].map((key) => ({
      required: [key],
      properties: { [key]: { minItems: 1 } },
    }))
  return {
    ...schema,
    $id: 'https://warden.dev/schemas/policy.schema.json',
    title: 'Warden policy document',
    description:
      'A Warden policy file (YAML or JSON). Loading also type-checks each `when` as CEL and checks globs and durations, which a JSON Schema cannot.',
  }
}
