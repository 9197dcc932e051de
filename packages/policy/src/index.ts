export {
  type BundleManifest,
  type CreateBundleOptions,
  createBundle,
  type SigningKey,
  type TrustedKey,
  type VerifiedBundle,
  verifyBundle,
} from './bundle.js'
export {
  BundleLoader,
  type BundleLoaderOptions,
  type BundleLoaderStatus,
  bundleLoader,
  type RefreshOutcome,
} from './bundle-loader.js'
export {
  type CompilePolicyOptions,
  compilePolicy,
  type PolicyDocument,
  type PolicyMaskDocument,
  type PolicyRuleDocument,
  type PolicySource,
} from './compile-policy.js'
export type * from './decision.js'
export { DETECTOR_NAMES } from './decision.js'
export {
  type AnyWardenError,
  type ApprovalErrorCode,
  PolicyError,
  type PolicyErrorLocation,
  WardenApprovalError,
  WardenDeniedError,
  WardenError,
  type WardenErrorCode,
  WardenTypeError,
} from './errors.js'
export type { OperandResult, PolicyExplanation, RuleExplanation } from './explain.js'
export { type LoadPolicyOptions, loadPolicy } from './load-policy.js'
export { Policy, type PolicyRuleInfo, type PolicyWarning } from './policy.js'
export {
  type PolicyTestExpectation,
  type PolicyTestReport,
  type PolicyTestResult,
  runPolicyTests,
} from './policy-tests.js'
export type * from './request.js'
export { requestFieldNames, unknownRequestFields } from './request-fields.js'
