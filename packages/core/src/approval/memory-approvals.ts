// The in-process approval store: the same semantics as redisApprovals (single-use decisions,
// approvers and minApprovals enforced, self-approval refused, expiry, events), for tests and
// single-process apps. Nothing outside the process can write to it, so decisions are not signed;
// the waiting side still checks each one against its own request, as with Redis.
import { EventEmitter } from 'node:events'
import { WardenTypeError } from '@warden/policy'
import type { ApprovalOutcome, ApprovalRequest } from './approver.js'
import {
  ApprovalDecisionError,
  type ApprovalDecisionInput,
  type ApprovalEvent,
  type ApprovalRecord,
  type ApprovalStore,
  admitDecision,
  type ConsumeResult,
  checkDecision,
  checkRequest,
  MAX_TIMER_MS,
  requestDigest,
  waitForDecision,
} from './internal/approval-store.js'
import { approverGroups, foldName } from './internal/approver-rules.js'
import { type DecisionClaims, settleDecisions } from './internal/signed-decisions.js'

interface Entry {
  record: ApprovalRecord
  timer: NodeJS.Timeout
  decisions: DecisionClaims[]
  counts: number[]
}

export interface MemoryApprovalsOptions {
  /** Re-check interval while waiting (ms). Default 1000. */
  readonly pollMs?: number
}

class MemoryApprovals implements ApprovalStore {
  readonly #entries = new Map<string, Entry>()
  readonly #events = new EventEmitter()
  readonly #pollMs: number

  constructor(options: MemoryApprovalsOptions) {
    this.#pollMs = options.pollMs ?? 1000
    if (!Number.isInteger(this.#pollMs) || this.#pollMs <= 0)
      throw new WardenTypeError('memoryApprovals: "pollMs" must be a positive integer')
    this.#events.setMaxListeners(0)
  }

  async request(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome> {
    await this.open(request)
    return this.wait(request, signal)
  }

  async open(request: ApprovalRequest): Promise<void> {
    checkRequest('memoryApprovals', request)
    if (this.#entries.has(request.id))
      throw new WardenTypeError(`memoryApprovals: approval ${request.id} already exists`)
    const record: ApprovalRecord = {
      id: request.id,
      status: 'pending',
      request,
      requestDigest: requestDigest(request),
    }
    const entry: Entry = {
      record,
      timer: undefined as unknown as NodeJS.Timeout,
      decisions: [],
      counts: approverGroups(request).map(() => 0),
    }
    // In legs: setTimeout holds at most ~24.8 days.
    const leg = () => {
      const left = request.expiresAt.getTime() - Date.now()
      if (left <= 0) return this.#drop(request.id, 'expired')
      entry.timer = setTimeout(leg, Math.min(left, MAX_TIMER_MS))
      entry.timer.unref()
    }
    this.#entries.set(request.id, entry)
    leg()
    this.#emit({ type: 'pending', record })
  }

  wait(request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome> {
    return waitForDecision(
      {
        consume: async (id): Promise<ConsumeResult> => {
          const e = this.#entries.get(id)
          if (e === undefined) return { state: 'missing' }
          const r = e.record
          if (r.status === 'pending') return { state: 'pending' }
          this.#drop(id, 'used')
          try {
            const opened = e.decisions.map((claims) => ({ claims }))
            return { state: 'decided', outcome: settleDecisions(request, opened, false) }
          } catch (error) {
            return { state: 'refused', error: error as Error }
          }
        },
        withdraw: async (id, status) => this.#drop(id, status),
        watch: (id, wake) => {
          const on = (event: ApprovalEvent) => {
            if (('id' in event ? event.id : event.record.id) === id) wake()
          }
          this.#events.on('event', on)
          return () => this.#events.off('event', on)
        },
      },
      request,
      signal,
      this.#pollMs,
    )
  }

  async withdraw(id: string): Promise<void> {
    this.#drop(id, 'withdrawn')
  }

  async pending(): Promise<ApprovalRecord[]> {
    return [...this.#entries.values()]
      .map((e) => e.record)
      .filter((r) => r.status === 'pending')
      .sort((a, b) => a.request.expiresAt.getTime() - b.request.expiresAt.getTime())
  }

  async get(id: string): Promise<ApprovalRecord | undefined> {
    return this.#entries.get(id)?.record
  }

  async decide(id: string, d: ApprovalDecisionInput): Promise<ApprovalRecord> {
    checkDecision(id, d)
    const e = this.#entries.get(id)
    if (e === undefined) throw new ApprovalDecisionError(id, 'unknown')
    const r = e.record
    if (r.status !== 'pending') throw new ApprovalDecisionError(id, 'decided')
    if (r.request.expiresAt.getTime() <= Date.now()) throw new ApprovalDecisionError(id, 'expired')
    const groups = admitDecision(id, r.request, d)
    const who = foldName(d.by)
    if (e.decisions.some((c) => foldName(c.by) === who)) throw new ApprovalDecisionError(id, 'duplicate')
    const decidedAt = new Date()
    e.decisions.push({
      v: 1,
      id,
      fingerprint: r.request.fingerprint,
      status: d.status,
      by: d.by,
      groups: [...(d.groups ?? [])],
      decidedAt: decidedAt.getTime(),
      ...(d.reason ? { reason: d.reason } : {}),
      request: requestDigest(r.request),
    })
    const need = approverGroups(r.request)
    let status: ApprovalRecord['status'] = d.status === 'rejected' ? 'rejected' : 'pending'
    if (d.status === 'approved')
      for (const g of groups) if (++e.counts[g] >= need[g].minApprovals) status = 'approved'
    const approvals = e.decisions.map((c) => ({
      by: c.by,
      status: c.status,
      decidedAt: new Date(c.decidedAt),
    }))
    if (status === 'pending') {
      e.record = { ...r, approvals }
      this.#emit({ type: 'progress', id, by: d.by, approvals: e.decisions.length })
      return e.record
    }
    const decided: ApprovalRecord = { ...r, status, by: d.by, reason: d.reason, decidedAt, approvals }
    e.record = decided
    this.#emit({ type: 'decided', id, status, by: d.by, reason: d.reason })
    return decided
  }

  subscribe(listener: (event: ApprovalEvent) => void): () => void {
    if (typeof listener !== 'function')
      throw new WardenTypeError('memoryApprovals.subscribe: listener must be a function')
    const on = (event: ApprovalEvent) => {
      try {
        listener(event)
      } catch {
        // A faulty listener must not break the store or other listeners.
      }
    }
    this.#events.on('event', on)
    return () => this.#events.off('event', on)
  }

  async close(): Promise<void> {
    for (const id of [...this.#entries.keys()]) this.#drop(id, 'withdrawn')
  }

  #drop(id: string, status: 'expired' | 'withdrawn' | 'used'): void {
    const e = this.#entries.get(id)
    if (e === undefined) return
    clearTimeout(e.timer)
    this.#entries.delete(id)
    this.#emit({ type: 'removed', id, status })
  }

  #emit(event: ApprovalEvent): void {
    this.#events.emit('event', event)
  }
}

/** An in-memory approval store (tests, single process). Exported from `@warden/core/testing`. */
export function memoryApprovals(options: MemoryApprovalsOptions = {}): ApprovalStore {
  return new MemoryApprovals(options)
}
