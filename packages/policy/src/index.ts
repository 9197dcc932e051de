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
export { loadPolicy, type LoadPolicyOptions } from './load-policy.js'
export {
  createBundle,
  verifyBundle,
  type BundleManifest,
  type CreateBundleOptions,
  type SigningKey,
  type TrustedKey,
  type VerifiedBundle,
} from './bundle.js'
export {
  bundleLoader,
  BundleLoader,
  type BundleLoaderOptions,
  type BundleLoaderStatus,
  type RefreshOutcome,
} from './bundle-loader.js'
export {
  runPolicyTests,
  type PolicyTestExpectation,
  type PolicyTestReport,
  type PolicyTestResult,
} from './policy-tests.js'
