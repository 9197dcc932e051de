import { readFile } from 'node:fs/promises'
import type { ChainProblem, ChainVerification, VerifyChainOptions } from '@warden/core'
import { flag, type ParsedArgs, stringOption, UsageError } from '../internal/args.js'
import { CliError } from '../internal/cli-error.js'
import type { CommandSpec } from '../internal/command.js'
import { createStyle, type Io } from '../internal/io.js'
import { readStdin, STDIN, spoolStdin } from '../internal/stdin.js'

/** One headline per problem (documented in the help text and the README). */
export const PROBLEM_TITLE: Record<ChainProblem, string> = {
  'not-json': 'not an audit record',
  'not-record': 'not an audit record',
  'no-seq': 'not an audit record',
  'not-utf8': 'not an audit record',
  'line-too-long': 'not an audit record',
  'duplicate-key': 'duplicate key',
  'not-canonical': 'not canonical',
  edited: 'edited',
  missing: 'record missing',
  'out-of-order': 'out of order',
  'broken-link': 'chain broken',
  'no-genesis': 'chain broken',
  'start-mismatch': 'does not continue the start',
  torn: 'torn',
  truncated: 'truncated',
  rewritten: 'rewritten',
  'forged-append': 'forged append',
  'bad-signature': 'bad checkpoint signature',
  'wrong-key': 'wrong key',
  'other-log': 'another log',
  'bad-checkpoint': 'bad checkpoint',
}

export const auditVerify: CommandSpec = {
  name: 'audit verify',
  summary: 'Check an audit log: hash chain, canonical lines, and signed checkpoints',
  usage:
    'audit verify [--checkpoints F --public-key P] [--start SEQ:HASH] [--log ID] [--segments] [--live] [--pino] [--json] <file...|->',
  details: `
Streams the log (any size) and checks that every line is the canonical JSON of its record,
every record's hash, each prev link and that seq counts up without gaps. Several files are
one chain, in the order given (rotated segments oldest first; --segments finds them).

With --checkpoints and --public-key it also checks the signed checkpoints of the log's head:
a log cut short, rewritten and re-chained, or appended to after it was closed is detected,
and records no checkpoint covers yet are counted.

Options:
  --checkpoints F    checkpoints file (fileCheckpoints JSONL, or a pino log of pinoCheckpoints)
  --public-key P     the Ed25519 public key (SPKI PEM file) the checkpoints are signed with
  --start SEQ:HASH   verify a suffix: the first record follows seq SEQ whose hash is HASH
  --log ID           the chain id to pick checkpoints by (hash of seq 1), for a shared store
  --segments         also verify the rotated segments of <file> (<file>.000001, ...) before it
  --live             the log is being written: an unfinished last line is not an error
  --pino             the file is a pino log whose lines carry records under "audit"
  --json             print the result as JSON

What a broken log prints (first bad seq, file:line, the problem and the reason):
  edited               a record's content does not match its hash
  not canonical        a line is not exactly its record's canonical JSON (spacing, key order,
                       number form, escapes): readers could disagree about what it says
  duplicate key        a key appears twice in one object: readers disagree about what it says
  record missing / out of order / chain broken
                       records removed, reordered or inserted
  torn                 the last line has no final newline (a write cut short); --live if it is
                       being written
  truncated            a checkpoint vouches for a seq beyond the log's end: records removed
  rewritten            the record at a checkpoint's seq is not the one it signed: records
                       edited or removed and the chain sealed again
  forged append        records after a "close" checkpoint that no "open" checkpoint vouches for
  another log          the log's first record is not the one its checkpoints name
  bad checkpoint signature / wrong key
                       a checkpoint was altered or forged, or the key is not the writer's

Exit codes: 0 intact, 1 broken or tampered (the first problem is printed), 2 a file or key
cannot be read, or bad usage. A file of "-" reads the log from stdin; --public-key - the key.
`,
  options: {
    json: { type: 'boolean' },
    checkpoints: { type: 'string' },
    'public-key': { type: 'string' },
    start: { type: 'string' },
    log: { type: 'string' },
    segments: { type: 'boolean' },
    live: { type: 'boolean' },
    pino: { type: 'boolean' },
  },
  async run(args, io) {
    if (args.positionals.length === 0) throw new UsageError('give the audit file (JSONL), or - for stdin')
    const stdinUses = [
      ...args.positionals,
      stringOption(args, 'public-key'),
      stringOption(args, 'checkpoints'),
    ]
    if (stdinUses.filter((v) => v === STDIN).length > 1)
      throw new UsageError('stdin ("-") can carry one input: the log or the public key')
    if (stringOption(args, 'checkpoints') === STDIN)
      throw new UsageError('--checkpoints needs a file (it is read more than once); - is not supported there')
    if (!args.positionals.includes(STDIN)) return verifyFiles(args, io, args.positionals, undefined)
    if (args.positionals.length > 1 || flag(args, 'segments'))
      throw new UsageError('"-" (the log on stdin) stands alone: no other files, no --segments')
    // verifyChain reads paths: the log on stdin goes to a private temporary file first
    const spooled = await spoolStdin('stdin.jsonl')
    try {
      return await verifyFiles(args, io, [spooled.path], { path: spooled.path, name: '<stdin>' })
    } finally {
      await spooled.remove()
    }
  },
}

/** Verifies `files`; `shown` renames a spooled stdin file in what is printed. */
async function verifyFiles(
  args: ParsedArgs,
  io: Io,
  files: string[],
  shown: { path: string; name: string } | undefined,
): Promise<number> {
  const checkpoints = stringOption(args, 'checkpoints')
  const keyFile = stringOption(args, 'public-key')
  if ((checkpoints === undefined) !== (keyFile === undefined))
    throw new UsageError(
      '--checkpoints and --public-key go together (a checkpoint is only as good as its key)',
    )
  const { auditSegments, verifyChain } = await import('@warden/core')
  const rename = (file: string | undefined) =>
    shown !== undefined && file === shown.path ? shown.name : file
  if (flag(args, 'segments')) {
    if (files.length !== 1) throw new UsageError('--segments takes one file (the live log)')
    files = auditSegments(files[0])
  }
  const options: VerifyChainOptions = {
    ...(checkpoints !== undefined ? { checkpoints } : {}),
    ...(keyFile !== undefined ? { publicKey: await readKey(keyFile) } : {}),
    ...parseStart(stringOption(args, 'start')),
    ...(stringOption(args, 'log') !== undefined ? { log: stringOption(args, 'log') } : {}),
    ...(flag(args, 'live') ? { live: true } : {}),
    ...(flag(args, 'pino') ? { format: 'pino' as const } : {}),
  }
  let result: ChainVerification
  try {
    result = await verifyChain(files, options)
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    if (e.code === 'ENOENT' || e.code === 'EISDIR' || e.code === 'EACCES') {
      throw new CliError(
        `cannot read ${e.path === checkpoints ? 'checkpoints file' : 'audit file'} ${rename(e.path) ?? files.join(' ')}: ${e.code}`,
        2,
      )
    }
    if (e.code === 'ERR_WARDEN_AUDIT' || e.code === 'ERR_WARDEN_CONFIG') throw new CliError(e.message, 2)
    throw error
  }
  if (flag(args, 'json')) {
    io.stdout.write(`${JSON.stringify(result.ok ? result : { ...result, file: rename(result.file) })}\n`)
    return result.ok ? 0 : 1
  }
  const s = createStyle(io.stdout, io.env)
  const name =
    files.length === 1 ? rename(files[0]) : `${files[0]} … ${files[files.length - 1]} (${files.length} files)`
  if (result.ok) {
    const head = result.head ? `, head seq ${result.head.seq} ${result.head.hash}` : ''
    io.stdout.write(`${s.green('ok')}  ${name}: ${result.count} records, chain intact${head}\n`)
    const c = result.checkpoints
    if (c !== undefined) {
      const covered = c.covered ? `, the log is vouched for up to seq ${c.covered.seq}` : ''
      io.stdout.write(
        `    ${c.verified} checkpoint${c.verified === 1 ? '' : 's'} verified${covered}${c.closed ? ' (closed)' : ''}\n`,
      )
      if (c.uncovered > 0)
        io.stdout.write(
          `    ${s.yellow('note')}: the last ${c.uncovered} record${c.uncovered === 1 ? ' is' : 's are'} not covered by a checkpoint yet (a live log, or appended after the last checkpoint)\n`,
        )
    }
    if (result.pending !== undefined)
      io.stdout.write(
        `    ${s.yellow('note')}: an unfinished last line (${result.pending} bytes) was not verified\n`,
      )
    return 0
  }
  const where = result.line > 0 ? `${rename(result.file) ?? name}:${result.line}` : `${checkpoints ?? name}`
  io.stdout.write(
    `${s.red('broken')}  ${where}: seq ${result.seq}: ${s.bold(PROBLEM_TITLE[result.code])}: ${result.reason}` +
      ` (${result.count} records verified before it)\n`,
  )
  return 1
}

async function readKey(path: string): Promise<string> {
  try {
    return path === STDIN ? await readStdin() : await readFile(path, 'utf8')
  } catch (error) {
    throw new CliError(`cannot read public key ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`, 2)
  }
}

function parseStart(value: string | undefined): { start?: { seq: number; hash: string } } {
  if (value === undefined) return {}
  const m = /^(\d+):(sha256:[0-9a-f]{64})$/.exec(value)
  if (m === null) throw new UsageError('--start must be SEQ:HASH, e.g. 1000:sha256:<64 hex digits>')
  return { start: { seq: Number(m[1]), hash: m[2] } }
}
