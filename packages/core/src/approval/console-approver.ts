// Asks a human on the terminal. Without a TTY (CI, a daemon) there is nobody to ask: it refuses.
import os from 'node:os'
import { createInterface } from 'node:readline/promises'
import { WardenTypeError } from '@warden/policy'
import type { ApprovalOutcome, ApprovalRequest, Approver } from './approver.js'
import { describeLines } from './internal/describe-request.js'

export interface ConsoleApproverOptions {
  /** Where answers come from. Default `process.stdin`; must be a TTY (`isTTY`), else every request is rejected. */
  readonly input?: NodeJS.ReadableStream & { readonly isTTY?: boolean }
  /** Where the question goes. Default `process.stderr` (stdout may be the program's data). */
  readonly output?: NodeJS.WritableStream
  /** Name recorded as `by`. Default `console:<OS user>`. */
  readonly reviewer?: string
}

export function consoleApprover(options: ConsoleApproverOptions = {}): Approver {
  const input = options.input ?? process.stdin
  const output = options.output ?? process.stderr
  if (typeof input?.on !== 'function')
    throw new WardenTypeError('consoleApprover: "input" must be a readable stream')
  if (typeof output?.write !== 'function')
    throw new WardenTypeError('consoleApprover: "output" must be a writable stream')
  const reviewer = options.reviewer ?? `console:${os.userInfo().username}`
  // One question at a time: concurrent commands queue for the terminal.
  let turn: Promise<unknown> = Promise.resolve()

  const ask = async (request: ApprovalRequest, signal: AbortSignal): Promise<ApprovalOutcome> => {
    const base = { fingerprint: request.fingerprint, id: request.id }
    if (signal.aborted)
      return { status: 'expired', reason: 'the approval wait was cancelled (timeout or abort)', ...base }
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
