// The in-process approval store: the same semantics as redisApprovals (single-use decisions,
// self-approval refused, expiry, events), for tests and single-process apps.
import { EventEmitter } from 'node:events'
import { WardenTypeError } from '@warden/policy'
import type { ApprovalOutcome, ApprovalRequest } from '../approver.js'
import {
  ApprovalDecisionError,
  type ApprovalDecisionInput,
  type ApprovalEvent,
  type ApprovalRecord,
  type ApprovalStore,
  type ConsumeResult,
  checkDecision,
  checkRequest,
  sameReviewer,
  waitForDecision,
} from './approval-store.js'

interface Entry {
  record: ApprovalRecord
  timer: NodeJS.Timeout
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
    const ttl = Math.max(0, request.expiresAt.getTime() - Date.now())
    const timer = setTimeout(() => this.#drop(request.id, 'expired'), Math.min(ttl, 2 ** 31 - 1))
    timer.unref()
    const record: ApprovalRecord = { id: request.id, status: 'pending', request }
    this.#entries.set(request.id, { record, timer })
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
          return {
            state: 'decided',
            status: r.status as 'approved' | 'rejected',
            by: r.by ?? '',
            reason: r.reason,
            fingerprint: r.request.fingerprint,
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
    if (d.fingerprint !== undefined && d.fingerprint !== r.request.fingerprint)
      throw new ApprovalDecisionError(id, 'fingerprint')
    if (d.status === 'approved' && sameReviewer(d.by, r.request.principal.id))
      throw new ApprovalDecisionError(id, 'self-approval')
    const decided: ApprovalRecord = {
      ...r,
      status: d.status,
      by: d.by,
      reason: d.reason,
      decidedAt: new Date(),
    }
    e.record = decided
    this.#emit({ type: 'decided', id, status: d.status, by: d.by, reason: d.reason })
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
