// Stopgap while @warden/policy and @warden/core land their agreed entry points
// (preamble "Interfaces between engineers"): resolve them by name at call time and
// fail with a clear message when one is missing. Replaced by direct imports once they land.
import * as core from '@warden/core'
import type { ApprovalRequest, Approver } from '@warden/core'
import * as policy from '@warden/policy'
import type { Decider } from '@warden/policy'
import { CliError } from './cli-error.js'

function entry<T>(module: object, pkg: string, name: string): T {
  const value = (module as Record<string, unknown>)[name]
  if (typeof value !== 'function') throw new CliError(`${pkg} does not export ${name}() (not built yet?)`, 2)
  return value as T
}

export const loadPolicy = (paths: readonly string[]): Promise<Decider> =>
  entry<(p: readonly string[]) => Promise<Decider>>(policy, '@warden/policy', 'loadPolicy')(paths)

export const runPolicyTests = (paths: readonly string[]): Promise<unknown> =>
  entry<(p: readonly string[]) => Promise<unknown>>(policy, '@warden/policy', 'runPolicyTests')(paths)

export const verifyChain = (file: string): Promise<unknown> =>
  entry<(f: string) => Promise<unknown>>(core, '@warden/core', 'verifyChain')(file)

export interface RedisApprovalsLike extends Approver {
  pending(): Promise<readonly ApprovalRequest[]>
  get(id: string): Promise<ApprovalRequest | undefined | null>
  decide(id: string, decision: { status: 'approved' | 'rejected'; by: string; reason: string }): Promise<unknown>
  subscribe(listener: (event: unknown) => void): () => void
  close(): Promise<void>
}

export const redisApprovals = (options: { redis: unknown; prefix?: string }): RedisApprovalsLike =>
  entry<(o: typeof options) => RedisApprovalsLike>(core, '@warden/core', 'redisApprovals')(options)
