import type { ChainVerification } from '@warden/core'
import { flag, UsageError } from '../internal/args.js'
import { CliError } from '../internal/cli-error.js'
import type { CommandSpec } from '../internal/command.js'
import { createStyle } from '../internal/io.js'

export const auditVerify: CommandSpec = {
  name: 'audit verify',
  summary: 'Check the hash chain of an audit log; report the first bad record',
  usage: 'audit verify [--json] <file>',
  details: `
Recomputes every record's hash over its canonical JSON, checks each record's prev against
the previous record's hash and that seq counts up from 1 without gaps. An edited, removed,
reordered or inserted record breaks the chain at the first bad seq. Anchor the printed head
hash elsewhere to also detect a rewritten tail.

Options:
  --json   print the result as JSON

Exit codes: 0 the chain is intact, 1 it is broken (the first bad seq and line are printed),
2 the file cannot be read or bad usage.
`,
  options: { json: { type: 'boolean' } },
  async run(args, io) {
    const [file, ...extra] = args.positionals
    if (file === undefined) throw new UsageError('give the audit file (JSONL)')
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`)
    let result: ChainVerification
    try {
      const { verifyChain } = await import('@warden/core')
      result = await verifyChain(file)
    } catch (error) {
      const e = error as NodeJS.ErrnoException
      if (e.code === 'ENOENT' || e.code === 'EISDIR' || e.code === 'EACCES') {
        throw new CliError(`cannot read audit file ${file}: ${e.code}`, 2)
      }
      throw error
    }
    if (flag(args, 'json')) {
      io.stdout.write(`${JSON.stringify(result)}\n`)
      return result.ok ? 0 : 1
    }
    const s = createStyle(io.stdout, io.env)
    if (result.ok) {
      const head = result.head ? `, head seq ${result.head.seq} ${result.head.hash}` : ''
      io.stdout.write(`${s.green('ok')}  ${file}: ${result.count} records, chain intact${head}\n`)
      return 0
    }
    io.stdout.write(
      `${s.red('broken')}  ${file}:${result.line}: first bad record seq ${result.seq}: ${result.reason}` +
        ` (${result.count} records verified before it)\n`,
    )
    return 1
  },
}
