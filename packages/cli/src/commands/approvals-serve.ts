import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { parse as parseYaml } from 'yaml'
import type { ReviewerAuth, ReviewerTokenEntry } from '../inbox/reviewer-auth.js'
import { flag, requireOption, stringOption, UsageError } from '../internal/args.js'
import { CliError } from '../internal/cli-error.js'
import type { CommandSpec } from '../internal/command.js'
import { readStdin, STDIN } from '../internal/stdin.js'

async function reviewerAuth(
  args: Parameters<CommandSpec['run']>[0],
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<ReviewerAuth> {
  const { jwtReviewerAuth, reviewerTokensAuth, sharedSecretAuth } = await import('../inbox/reviewer-auth.js')
  const jwks = stringOption(args, 'jwks')
  const reviewers = stringOption(args, 'reviewers')
  const secret = stringOption(args, 'secret') ?? env.WARDEN_INBOX_SECRET
  const given = [jwks, reviewers, secret].filter((v) => v !== undefined).length
  if (given > 1) throw new UsageError('give one of --reviewers, --jwks or --secret')
  try {
    if (jwks !== undefined) {
      return jwtReviewerAuth({
        jwks,
        issuer: requireOption(args, 'issuer'),
        audience: requireOption(args, 'audience'),
        ...(stringOption(args, 'reviewer-claim')
          ? { reviewerClaim: stringOption(args, 'reviewer-claim')! }
          : {}),
        ...(stringOption(args, 'groups-claim') ? { groupsClaim: stringOption(args, 'groups-claim')! } : {}),
      })
    }
    if (reviewers !== undefined)
      return reviewerTokensAuth(
        await readReviewersFile(reviewers === STDIN ? STDIN : path.resolve(cwd, reviewers)),
      )
    if (secret !== undefined) return sharedSecretAuth(secret)
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(error.message.replace(/^\w+: /, ''))
    throw error
  }
  throw new UsageError(
    'reviewers must authenticate: give --reviewers <file> (a token per reviewer), --jwks with --issuer and --audience, or --secret (or WARDEN_INBOX_SECRET)',
  )
}

/** The `--reviewers` file (YAML or JSON): `reviewers: [{id, tokenSha256, groups}]`; `-` is stdin. */
async function readReviewersFile(path: string): Promise<ReviewerTokenEntry[]> {
  const file = path === STDIN ? '<stdin>' : path
  let text: string
  try {
    text = path === STDIN ? await readStdin() : await readFile(path, 'utf8')
  } catch (error) {
    throw new CliError(`cannot read reviewers file ${file}: ${(error as NodeJS.ErrnoException).code}`, 2)
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (error) {
    throw new UsageError(`reviewers file ${file}: ${(error as Error).message.split('\n')[0]}`)
  }
  const list = (doc as { reviewers?: unknown } | null)?.reviewers
  if (!Array.isArray(list))
    throw new UsageError(
      `reviewers file ${file}: expected "reviewers:" with a list of {id, tokenSha256, groups}`,
    )
  return list as ReviewerTokenEntry[]
}

/** How the inbox signs decisions: a private key file, the key in the environment, or the dev opt-out. */
async function decisionKeys(
  args: Parameters<CommandSpec['run']>[0],
  env: Record<string, string | undefined>,
  cwd: string,
): Promise<{ signingKey: string } | { unsigned: 'development-only' }> {
  const file = stringOption(args, 'signing-key')
  const unsigned = flag(args, 'unsigned-dev')
  if (unsigned && (file !== undefined || env.WARDEN_INBOX_SIGNING_KEY))
    throw new UsageError('give --signing-key or --unsigned-dev, not both')
  if (unsigned) return { unsigned: 'development-only' }
  if (file !== undefined) {
    const at = file === STDIN ? '<stdin>' : path.resolve(cwd, file)
    try {
      return { signingKey: file === STDIN ? await readStdin() : await readFile(at, 'utf8') }
    } catch (error) {
      throw new CliError(`cannot read signing key ${at}: ${(error as NodeJS.ErrnoException).code}`, 2)
    }
  }
  if (env.WARDEN_INBOX_SIGNING_KEY) return { signingKey: env.WARDEN_INBOX_SIGNING_KEY }
  throw new UsageError(
    'decisions must be signed: give --signing-key <file> (an Ed25519 private key; `warden audit keygen --out inbox` makes one) or WARDEN_INBOX_SIGNING_KEY, or --unsigned-dev for development',
  )
}

const SIGN_IN = { jwt: 'a JWT', tokens: 'their reviewer token', secret: 'the shared secret' } as const

function portOption(value: string | undefined): number {
  if (value === undefined) return 7878
  const port = Number(value)
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`--port must be 0-65535, got "${value}"`)
  return port
}

export const approvalsServe: CommandSpec = {
  name: 'approvals serve',
  summary: 'Serve the approvals inbox web page on the Redis approval store',
  usage:
    'approvals serve --redis <url> --signing-key <file> [--port <n>] [--host <addr>] [--prefix <p>] (--reviewers <file> | --jwks <url> --issuer <iss> --audience <aud> | --secret <s>)',
  details: `
Every application instance using redisApprovals with the same Redis and prefix shows its
pending requests here: who, resource, command and facts, rule and reason, preview, and time
left. Reviewers approve or reject with a reason; decided requests disappear from every open
page. A requester can never decide their own request.

Every decision is signed with the inbox's Ed25519 key; applications wait with the public key in
redisApprovals({trustedKeys}) and refuse any decision it did not sign, so whoever can write to Redis
cannot approve. \`warden audit keygen --out inbox\` makes a pair (inbox.key, inbox.pub).

Options:
  --redis <url>          Redis URL, e.g. redis://127.0.0.1:6379/0
  --signing-key <file>   the inbox's Ed25519 private key (PKCS8 PEM; - reads it from stdin); also read as PEM text from
                         WARDEN_INBOX_SIGNING_KEY
  --unsigned-dev         development only: store unsigned decisions (applications must then use
                         unsigned: 'development-only'; every approval is marked unsigned in the audit)
  --prefix <p>           key prefix the applications use (default: the store's default)
  --port <n>             port to listen on (default 7878; 0 picks a free one)
  --host <addr>          address to bind (default 127.0.0.1)
  --reviewers <file|->   a token per reviewer (YAML or JSON): reviewers: [{id, tokenSha256,
                         groups}]; the token proves who decides, groups are checked against a
                         rule's approvers. \`warden approvals reviewer-token <id>\` makes an entry.
  --secret <s>           one shared secret (>= 12 chars) reviewers type into the page; also read
                         from WARDEN_INBOX_SECRET, which keeps it out of the process list.
                         Reviewers name themselves, so names are not proven: use --reviewers or
                         --jwks where they must be.
  --jwks <url>           verify reviewers' bearer JWTs against this JWKS ...
  --issuer <iss>         ... with this issuer ...
  --audience <aud>       ... and audience
  --reviewer-claim <c>   claim naming the reviewer (default sub)
  --groups-claim <c>     claim listing the reviewer's groups, checked against a rule's approvers
                         (default groups)

Stops on SIGINT/SIGTERM. Exit codes: 0 stopped, 2 bad usage or cannot listen.
`,
  options: {
    redis: { type: 'string' },
    'signing-key': { type: 'string' },
    'unsigned-dev': { type: 'boolean' },
    prefix: { type: 'string' },
    port: { type: 'string', short: 'p' },
    host: { type: 'string' },
    secret: { type: 'string' },
    reviewers: { type: 'string' },
    jwks: { type: 'string' },
    issuer: { type: 'string' },
    audience: { type: 'string' },
    'reviewer-claim': { type: 'string' },
    'groups-claim': { type: 'string' },
  },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`)
    const redisUrl = requireOption(args, 'redis')
    const port = portOption(stringOption(args, 'port'))
    const host = stringOption(args, 'host') ?? '127.0.0.1'
    if (stringOption(args, 'signing-key') === STDIN && stringOption(args, 'reviewers') === STDIN)
      throw new UsageError('stdin ("-") can carry one input: --signing-key or --reviewers')
    const auth = await reviewerAuth(args, io.env, io.cwd)
    const keys = await decisionKeys(args, io.env, io.cwd)
    const prefix = stringOption(args, 'prefix')
    // The store owns its Redis client (closed with it) and fails fast while Redis is down.
    // Loaded here so other commands start without the Redis client and the inbox.
    const [{ redisApprovals }, { createInboxServer }] = await Promise.all([
      import('@warden/core'),
      import('../inbox/inbox-server.js'),
    ])
    let store: ReturnType<typeof redisApprovals>
    try {
      store = redisApprovals({ redis: redisUrl, ...keys, ...(prefix !== undefined ? { prefix } : {}) })
    } catch (error) {
      // A key that is not an Ed25519 private key, for one.
      if (error instanceof TypeError) throw new UsageError(error.message.replace(/^\w+: /, ''))
      throw error
    }
    try {
      await store.pending()
    } catch (error) {
      await store.close()
      throw new CliError(`cannot use the approval store at ${redisUrl}: ${(error as Error).message}`, 2)
    }
    const log = (line: string) => io.stderr.write(`${new Date().toISOString()} ${line}\n`)
    const inbox = createInboxServer({ store, auth, log })
    let url: string
    try {
      url = await inbox.listen(port, host)
    } catch (error) {
      await inbox.close()
      await store.close()
      throw new CliError(`cannot listen on ${host}:${port}: ${(error as Error).message}`, 2)
    }
    io.stdout.write(`approvals inbox on ${url} (reviewers sign in with ${SIGN_IN[auth.mode]})\n`)
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve)
      process.once('SIGTERM', resolve)
    })
    await inbox.close()
    await store.close()
    return 0
  },
}
