// Stopgap while @warden/core lands redisApprovals (agreed in
// the preamble's "Interfaces between engineers"): resolve it by name at call time and fail
// with a clear message while it is missing. Replaced by a direct import once it lands.
import * as core from '@warden/core'
import type { ApprovalRequest, Approver } from '@warden/core'
import { CliError } from './cli-error.js'

function entry<T>(module: object, pkg: string, name: string): T {
  const value = (module as Record<string, unknown>)[name]
  if (typeof value !== 'function') throw new CliError(`${pkg} does not export ${name}() (not built yet?)`, 2)
  return value as T
}

export interface RedisApprovalsLike extends Approver {
  pending(): Promise<readonly ApprovalRequest[]>
  get(id: string): Promise<ApprovalRequest | undefined | null>
  decide(id: string, decision: { status: 'approved' | 'rejected'; by: string; reason: string }): Promise<unknown>
  subscribe(listener: (event: unknown) => void): () => void
  close(): Promise<void>
}

export const redisApprovals = (options: { redis: unknown; prefix?: string }): RedisApprovalsLike =>
  entry<(o: typeof options) => RedisApprovalsLike>(core, '@warden/core', 'redisApprovals')(options)
