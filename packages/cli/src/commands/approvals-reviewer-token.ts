import { createHash, randomBytes } from 'node:crypto'
import { stringOption, UsageError } from '../internal/args.js'
import type { CommandSpec } from '../internal/command.js'

const REVIEWER_NAME = /^[\p{L}\p{N}._@+-]{1,64}$/u

export const approvalsReviewerToken: CommandSpec = {
  name: 'approvals reviewer-token',
  summary: 'Make a reviewer token for the inbox and its entry for the --reviewers file',
  usage: 'approvals reviewer-token <id> [--groups <g1,g2>]',
  details: `
Prints a new random token (32 bytes) for reviewer <id>, and the line to add under
"reviewers:" in the file given to \`warden approvals serve --reviewers\`. The file holds only
the token's SHA-256, so it is not itself a credential. Give the token to the reviewer; it is
not stored anywhere and cannot be shown again.

Options:
  --groups <g1,g2>   the reviewer's groups, matched against a rule's approvers

Exit codes: 0 printed, 2 bad usage.
`,
  options: { groups: { type: 'string' } },
  async run(args, io) {
    const [id, ...extra] = args.positionals
    if (id === undefined)
      throw new UsageError('give the reviewer id, e.g. warden approvals reviewer-token alice')
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`)
    if (!REVIEWER_NAME.test(id))
      throw new UsageError(`reviewer id "${id}": use 1-64 letters, digits or . _ @ + -`)
    const groups = (stringOption(args, 'groups') ?? '')
      .split(',')
      .map((g) => g.trim())
      .filter((g) => g !== '')
    const token = `wrt_${randomBytes(32).toString('base64url')}`
    const tokenSha256 = createHash('sha256').update(token, 'utf8').digest('hex')
    const entry = JSON.stringify({ id, tokenSha256, groups })
    io.stdout.write(
      `token for ${id} (shown once; give it to them):\n  ${token}\n` +
        `entry for the reviewers file (under "reviewers:"):\n  - ${entry}\n`,
    )
    return 0
  },
}
