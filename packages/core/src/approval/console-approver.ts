// Asks a human on the terminal. Without a TTY (CI, a daemon) there is nobody to ask: it refuses.
import os from 'node:os'
import { createInterface } from 'node:readline/promises'
import { WardenTypeError } from '@warden/policy'
import type { ApprovalOutcome, ApprovalRequest, Approver } from './approver.js'
import { approverGroups, approverRefusal, describeApprovers } from './internal/approver-rules.js'
import { describeLines } from './internal/describe-request.js'

export interface ConsoleApproverOptions {
  /** Where answers come from. Default `process.stdin`; must be a TTY (`isTTY`), else every request is rejected. */
  readonly input?: NodeJS.ReadableStream & { readonly isTTY?: boolean }
  /** Where the question goes. Default `process.stderr` (stdout may be the program's data). */
  readonly output?: NodeJS.WritableStream
  /** Name recorded as `by`, matched against a rule's approvers. Default `console:<OS user>`. */
  readonly reviewer?: string
  /** The reviewer's groups, matched against a rule's approvers (e.g. `['dba-oncall']`). */
  readonly groups?: readonly string[]
}

export function consoleApprover(options: ConsoleApproverOptions = {}): Approver {
  const input = options.input ?? process.stdin
  const output = options.output ?? process.stderr
  if (typeof input?.on !== 'function')
    throw new WardenTypeError('consoleApprover: "input" must be a readable stream')
  if (typeof output?.write !== 'function')
    throw new WardenTypeError('consoleApprover: "output" must be a writable stream')
  const reviewer = options.reviewer ?? `console:${os.userInfo().username}`
  const groups = options.groups ?? []
  if (!Array.isArray(groups) || groups.some((g) => typeof g !== 'string'))
    throw new WardenTypeError('consoleApprover: "groups" must be a list of names')
  // One question at a time: concurrent commands queue for the terminal.
  let turn: Promise<unknown> = Promise.resolve()

  const ask = async (request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome> => {
    const base = { fingerprint: request.fingerprint, id: request.id }
    if (signal.aborted)
      return { status: 'expired', reason: 'the approval wait was cancelled (timeout or abort)', ...base }
    // The terminal's reviewer is held to the rule like any other: not asked when they may not approve.
    const refusal = approverRefusal(request, 'approved', reviewer, groups)
    if (refusal !== undefined)
      return {
        status: 'rejected',
        reason:
          refusal === 'self-approval'
            ? `consoleApprover: ${reviewer} is the requester and cannot approve their own request`
            : `consoleApprover: ${reviewer} is not an approver of rule ${request.rule} (needs ${describeApprovers(request)}); configure consoleApprover({reviewer, groups})`,
        ...base,
      }
    // One person at one terminal is one approval.
    if (approverGroups(request).every((g) => g.minApprovals > 1))
      return {
        status: 'rejected',
        reason: `consoleApprover: rule ${request.rule} needs ${describeApprovers(request)}; one terminal gives one approval (use redisApprovals and the inbox)`,
        ...base,
      }
    const rl = createInterface({ input, output, terminal: false })
    try {
      output.write(
        `\nWarden approval request\n${describeLines(request)
          .map((l) => `  ${l}`)
          .join('\n')}\n`,
      )
      const answer = await rl.question('Approve? [y/N] ', { signal })
      const yes = /^\s*(y|yes)\s*$/i.test(answer)
      return yes
        ? { status: 'approved', by: reviewer, reason: 'approved on the console', ...base }
        : { status: 'rejected', by: reviewer, reason: 'rejected on the console', ...base }
    } catch (error) {
      if (signal.aborted) {
        output.write('\n(approval request timed out)\n')
        return { status: 'expired', reason: 'the approval wait was cancelled (timeout or abort)', ...base }
      }
      return {
        status: 'rejected',
        reason: `consoleApprover: could not read an answer (${(error as Error).message})`,
        ...base,
      }
    } finally {
      rl.close()
    }
  }

  return {
    request(request, signal) {
      if (input.isTTY !== true) {
        return Promise.resolve({
          status: 'rejected',
          reason:
            'consoleApprover: no TTY to ask on (stdin is not a terminal); use webhookApprover or redisApprovals here',
          fingerprint: request.fingerprint,
          id: request.id,
        })
      }
      const next = turn.then(() => ask(request, signal))
      turn = next.catch(() => {})
      return next
    },
  }
}
