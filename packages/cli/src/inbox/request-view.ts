// What the inbox sends a page about a request: bounded (a 1 MB command or a huge preview must not
// become a huge frame re-sent on every store event), with what this reviewer may do and why not.
// The page asks for the full request (GET /api/requests/:id) only when a reviewer wants it.
import { type ApprovalRecord, type ApprovalRequest, describeApprovers, foldName } from '@warden/core'
import { type Reviewer, refusalReason } from './reviewer-auth.js'

/** Characters of the command in a listed request (the page shows at most 2 KB of it collapsed). */
export const LIST_COMMAND_CHARS = 4096
/** Characters of short fields (principal, resource, rule, reason, approvers). */
const TEXT_CHARS = 500
/** JSON bytes of a listed request's facts, and of its preview's sample, before they are left out. */
const FACTS_BYTES = 8 * 1024
const PREVIEW_BYTES = 32 * 1024
const SAMPLE_ROWS = 10
const SAMPLE_COLUMNS = 32
const CELL_CHARS = 200

/** Cuts `text` to at most `max` UTF-16 units without splitting a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text
  const code = text.charCodeAt(max - 1)
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max)
}

const str = (value: unknown, max = TEXT_CHARS) =>
  clip(typeof value === 'string' ? value : String(value ?? ''), max)

/** JSON that survives bigints (facts or sample values from a store that kept them). */
export const json = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))

function cell(value: unknown): unknown {
  if (value === null || value === undefined) return null
  if (typeof value === 'number' || typeof value === 'boolean') return value
  return clip(typeof value === 'string' ? value : json(value), CELL_CHARS)
}

function row(value: unknown): Record<string, unknown> | null {
  if (value === null || typeof value !== 'object') return null
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value).slice(0, SAMPLE_COLUMNS)) out[clip(key, 100)] = cell(v)
  return out
}

interface PreviewView {
  summary: string
  rowsAffected?: number[]
  method?: string
  sample?: (Record<string, unknown> | null)[]
  before?: (Record<string, unknown> | null)[]
  /** Rows in the preview's sample (it may hold more than are listed). */
  sampleSize?: number
  /** Set when the sample was too large to list: the full request has it. */
  sampleOmitted?: true
}

function previewView(preview: unknown): PreviewView | undefined {
  if (preview === null || typeof preview !== 'object') return undefined
  const p = preview as Record<string, unknown>
  const out: PreviewView = { summary: str(p.summary, 1000) }
  if (Array.isArray(p.rowsAffected))
    out.rowsAffected = p.rowsAffected.slice(0, 100).filter((n): n is number => typeof n === 'number')
  if (typeof p.method === 'string') out.method = str(p.method, 200)
  if (Array.isArray(p.sample) && p.sample.length > 0) {
    out.sampleSize = p.sample.length
    out.sample = p.sample.slice(0, SAMPLE_ROWS).map(row)
    if (Array.isArray(p.before)) out.before = p.before.slice(0, SAMPLE_ROWS).map(row)
    if (json(out).length > PREVIEW_BYTES) {
      delete out.sample
      delete out.before
      out.sampleOmitted = true
    }
  }
  return out
}

/** "1 of 2 approvals (alice)", or undefined when one approval decides and none was given yet. */
export function progressText(record: Pick<ApprovalRecord, 'request' | 'approvals'>): string | undefined {
  const { request } = record
  const names = (record.approvals ?? []).filter((a) => a.status === 'approved').map((a) => a.by)
  const groups = Array.isArray(request.groups) && request.groups.length > 0 ? request.groups : undefined
  const shown = names.length > 0 ? ` (${names.map((n) => str(n, 64)).join(', ')})` : ''
  const plural = (n: number) => (n === 1 ? 'approval' : 'approvals')
  if (groups === undefined || groups.length === 1) {
    const need = groups?.[0]?.minApprovals ?? 1
    if (need <= 1 && names.length === 0) return undefined
    return `${names.length} of ${need} ${plural(need)}${shown}`
  }
  if (names.length === 0 && groups.every((g) => g.minApprovals <= 1)) return undefined
  return `${names.length} ${plural(names.length)} so far${shown}; needs ${str(describeApprovers(request))}`
}

function lineCount(text: string): number {
  let n = 1
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) n++
  return n
}

/** The list entry of a pending request: every field bounded. */
export function requestView(record: ApprovalRecord): Record<string, unknown> {
  const r = record.request
  const factsJson = json(r.facts ?? {})
  const principal = r.principal ?? { id: '', type: '' }
  return {
    id: r.id,
    fingerprint: r.fingerprint,
    // Sent back with the decision: the store refuses it if the request changed since it was shown.
    ...(typeof record.requestDigest === 'string' ? { requestDigest: record.requestDigest } : {}),
    session: str(r.session, 200),
    principal: {
      id: str(principal.id, 200),
      type: str(principal.type, 100),
      groups: Array.isArray(principal.groups) ? principal.groups.slice(0, 20).map((g) => str(g, 100)) : [],
    },
    resource: { kind: str(r.resource?.kind, 100), name: str(r.resource?.name) },
    action: str(r.action, 200),
    command: clip(String(r.command ?? ''), LIST_COMMAND_CHARS),
    commandLength: String(r.command ?? '').length,
    commandLines: lineCount(String(r.command ?? '')),
    facts: factsJson.length <= FACTS_BYTES ? JSON.parse(factsJson) : null,
    factsBytes: factsJson.length,
    rule: str(r.rule),
    reason: str(r.reason, 1000),
    approvers: (r.approvers ?? []).slice(0, 50).map((a) => str(a, 100)),
    approversText: str(describeApprovers(r)),
    requestedAt: r.requestedAt,
    expiresAt: r.expiresAt,
    ...(r.preview !== undefined ? { preview: previewView(r.preview) } : {}),
    approvals: (record.approvals ?? [])
      .slice(0, 20)
      .map((a) => ({ by: str(a.by, 200), status: a.status, decidedAt: a.decidedAt })),
    progress: progressText(record),
  }
}

/** Why this reviewer may not approve / reject the request (absent: they may). Computed by the server, shown by the page. */
export function decideView(
  reviewer: Reviewer,
  record: Pick<ApprovalRecord, 'request' | 'approvals'>,
): { approve?: string; reject?: string } {
  const request: ApprovalRequest = record.request
  const me = foldName(reviewer.id)
  const mine = (record.approvals ?? []).find((a) => foldName(a.by) === me)
  // Each reviewer counts once (the store refuses a second decision as a duplicate).
  const already = mine && `you already ${mine.status} this request; ${progressText(record) ?? 'waiting'}`
  const approve = already || refusalReason(reviewer, request, 'approved')
  const reject = already || refusalReason(reviewer, request, 'rejected')
  return { ...(approve ? { approve } : {}), ...(reject ? { reject } : {}) }
}

/** One line of the inbox's history of recent decisions. */
export interface HistoryEntry {
  readonly id: string
  readonly at: string
  /** `approval`: one approval of several that are needed (minApprovals). */
  readonly status: 'approved' | 'rejected' | 'approval' | 'expired' | 'withdrawn'
  readonly by?: string
  readonly reason?: string
  readonly resource?: string
  readonly principal?: string
  /** The start of the command. */
  readonly command?: string
}

/** What the history remembers of a request it saw pending. */
export interface Brief {
  readonly resource: string
  readonly principal: string
  readonly command: string
}

export function brief(request: ApprovalRequest): Brief {
  return {
    resource: str(`${request.resource?.kind}:${request.resource?.name}`, 200),
    principal: str(request.principal?.id, 200),
    command: clip(String(request.command ?? ''), 300),
  }
}

/** The last `size` decisions the inbox saw (from any instance), newest first. */
export class DecisionHistory {
  readonly #entries: HistoryEntry[] = []
  readonly #briefs = new Map<string, Brief>()
  constructor(readonly size = 50) {}

  /** Remembers what a pending request is, so a later decision on it can say what was decided. */
  seen(id: string, request: ApprovalRequest): void {
    if (this.#briefs.has(id)) return
    this.#briefs.set(id, brief(request))
    // Bounded: the oldest briefs go first (Map keeps insertion order).
    if (this.#briefs.size > 2000) this.#briefs.delete(this.#briefs.keys().next().value as string)
  }

  add(entry: Omit<HistoryEntry, 'at' | keyof Brief> & { at?: Date }): void {
    const key = (e: Pick<HistoryEntry, 'id' | 'status' | 'by'>) => `${e.id}\0${e.status}\0${e.by ?? ''}`
    // A decision made here is recorded at once and again when the store's event arrives: keep one.
    if (this.#entries.some((e) => key(e) === key(entry))) return
    const known = this.#briefs.get(entry.id)
    this.#entries.unshift({
      id: entry.id,
      at: (entry.at ?? new Date()).toISOString(),
      status: entry.status,
      ...(entry.by !== undefined ? { by: str(entry.by, 200) } : {}),
      ...(entry.reason ? { reason: str(entry.reason, 1000) } : {}),
      ...known,
    })
    if (this.#entries.length > this.size) this.#entries.length = this.size
    if (entry.status !== 'approval') this.#briefs.delete(entry.id)
  }

  /** A request gone without a decision; listed only if it was seen pending and not decided (not `used`). */
  removed(id: string, status: 'expired' | 'withdrawn'): void {
    if (this.#briefs.has(id)) this.add({ id, status })
  }

  list(): readonly HistoryEntry[] {
    return this.#entries
  }
}
