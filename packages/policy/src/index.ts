export {
  WardenError,
  WardenDeniedError,
  PolicyError,
  type PolicyErrorLocation,
  type WardenErrorCode,
} from './errors.js'
export type * from './request.js'
export type * from './decision.js'
export {
  compilePolicy,
  type CompilePolicyOptions,
  type PolicyDocument,
  type PolicyMaskDocument,
  type PolicyRuleDocument,
  type PolicySource,
} from './compile-policy.js'
export { Policy, type PolicyRuleInfo } from './policy.js'
