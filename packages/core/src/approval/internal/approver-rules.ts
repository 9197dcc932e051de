// Who may decide a request: the rule's approver groups, the requester never approving, and
// Unicode-correct comparison of names, shared by the stores, the waiting process, the console
// approver and the inbox so that all of them agree.
import type { ApproverGroup } from '@warden/policy'
import type { ApprovalRequest } from '../approver.js'

/**
 * A name folded for comparison: NFKC (so full-width and compatibility forms are one name), then
 * lower → upper → lower, which approximates Unicode full case folding (`ß` = `ss`, `ſ` = `s`,
 * `Émile` = `émile`) without a locale (no Turkish dotless-i surprises from the host's locale).
 */
export function foldName(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase().toUpperCase().toLowerCase().normalize('NFKC')
}

/**
 * Whether two names are one person's, for the requester check: folded, and with invisible
 * characters (zero-width, soft hyphen, bidi marks: Default_Ignorable_Code_Point) ignored, so a
 * principal spelled `agent-7\u200B` is still `agent-7` (matching more here only refuses more).
 */
export function sameName(a: string, b: string): boolean {
  return foldName(a).replace(IGNORABLE, '') === foldName(b).replace(IGNORABLE, '')
}

const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu

/** The request's approver groups (a request built without them: one group of `approvers`, one approval). */
export function approverGroups(
  request: Pick<ApprovalRequest, 'approvers' | 'groups'>,
): readonly ApproverGroup[] {
  const groups = request.groups
  if (Array.isArray(groups) && groups.length > 0) return groups
  return [{ approvers: Array.isArray(request.approvers) ? request.approvers : [], minApprovals: 1 }]
}

/** Indexes of the groups in which this reviewer counts (empty: they may not approve). */
export function eligibleGroups(
  request: Pick<ApprovalRequest, 'approvers' | 'groups'>,
  by: string,
  reviewerGroups: readonly string[],
): number[] {
  const me = foldName(by)
  const mine = new Set(reviewerGroups.map(foldName))
  const out: number[] = []
  approverGroups(request).forEach((g, i) => {
    if (g.approvers.length === 0 || g.approvers.some((a) => foldName(a) === me || mine.has(foldName(a))))
      out.push(i)
  })
  return out
}

export type ApproverRefusal = 'self-approval' | 'not-approver'

/**
 * Why `by` (with `groups`) may not make this decision, or undefined when they may. The requester
 * never approves their own request but may reject (withdraw) it.
 */
export function approverRefusal(
  request: Pick<ApprovalRequest, 'approvers' | 'groups' | 'principal'>,
  status: 'approved' | 'rejected',
  by: string,
  groups: readonly string[],
): ApproverRefusal | undefined {
  const requester = sameName(by, request.principal.id)
  if (status === 'approved' && requester) return 'self-approval'
  if (status === 'rejected' && requester) return undefined
  return eligibleGroups(request, by, groups).length === 0 ? 'not-approver' : undefined
}

/** "dba-oncall (2 approvals) or cto": what a reviewer is told about who may approve. */
export function describeApprovers(request: Pick<ApprovalRequest, 'approvers' | 'groups'>): string {
  return approverGroups(request)
    .map((g) => {
      const who = g.approvers.length === 0 ? 'any reviewer' : g.approvers.join(', ')
      return g.minApprovals > 1 ? `${who} (${g.minApprovals} approvals)` : who
    })
    .join(' or ')
}
