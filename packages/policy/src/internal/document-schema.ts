// The policy document schema (packages/policy/README.md, "Documents"). Unknown keys are errors.
import { z } from 'zod'
import { DETECTOR_NAMES, type MaskStrategyName } from '../decision.js'

const STRATEGIES = [
  'redact',
  'partial',
  'hash',
  'tokenize',
  'null',
] as const satisfies readonly MaskStrategyName[]

const name = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/-]*$/, 'names are letters, digits and _ . : / - (no spaces)')
const tag = z.string().regex(/^[a-z0-9][a-z0-9_.:-]*$/, 'tags are lower-case letters, digits and _ . : -')
const effect = z.enum(['allow', 'deny', 'approve'])
const minApprovals = z.number().int().min(1).max(20)
const approverGroup = z.strictObject({
  approvers: z.array(z.string().min(1)).default([]),
  minApprovals: minApprovals.optional(),
})
const approval = z.strictObject({
  approvers: z.array(z.string().min(1)).default([]),
  /** How many distinct approvers must approve (default 1). */
  minApprovals: minApprovals.optional(),
  /** Several approver groups, any one of which suffices (OR); instead of `approvers`. */
  anyOf: z.array(approverGroup).min(1).optional(),
  /** Duration such as `15m`. */
  timeout: z.string().optional(),
})

const rule = z.strictObject({
  name,
  description: z.string().optional(),
  resources: z.array(z.string()).min(1).optional(),
  when: z.string().min(1).optional(),
  effect,
  reason: z.string().optional(),
  approval: approval.optional(),
  shadow: z.boolean().optional(),
  tags: z.array(tag).optional(),
})

const mask = z
  .strictObject({
    name,
    description: z.string().optional(),
    resources: z.array(z.string()).min(1).optional(),
    when: z.string().min(1).optional(),
    columns: z.array(z.string()).optional(),
    detectors: z.array(z.enum(DETECTOR_NAMES)).optional(),
    strategy: z.enum(STRATEGIES),
    tags: z.array(tag).optional(),
    shadow: z.boolean().optional(),
  })
  .refine((m) => (m.columns?.length ?? 0) + (m.detectors?.length ?? 0) > 0, {
    message: 'a mask needs "columns" or "detectors"',
  })

export const policyDocumentSchema = z.strictObject({
  description: z.string().optional(),
  /** The whole document is non-enforcing: its rules report in `matched` only. */
  shadow: z.boolean().optional(),
  defaults: z
    .strictObject({
      effect: effect.default('deny'),
      reason: z.string().optional(),
      approval: approval.optional(),
    })
    .optional(),
  rules: z.array(rule).default([]),
  masks: z.array(mask).default([]),
})

export type PolicyDocumentParsed = z.infer<typeof policyDocumentSchema>
