import { flag, UsageError } from '../internal/args.js'
import type { CommandSpec } from '../internal/command.js'
import { createStyle } from '../internal/io.js'
import { verifyChain } from '../internal/upstream.js'

interface ChainResultLike {
  readonly ok: boolean
  readonly records?: number
  readonly firstBad?: number
  readonly reason?: string
}

export const auditVerify: CommandSpec = {
  name: 'audit verify',
  summary: 'Check the hash chain of an audit log; report the first bad record',
  usage: 'audit verify <file> [--json]',
  details: `
Recomputes every record's hash over its canonical JSON and checks each record's prev
against the previous record's hash, and that seq counts up without gaps.

Options:
  --json   print the result as JSON

Exit codes: 0 the chain is intact, 1 it is broken (the first bad seq is printed),
2 the file cannot be read or bad usage.
`,
  options: { json: { type: 'boolean' } },
  async run(args, io) {
    const [file, ...extra] = args.positionals
    if (file === undefined) throw new UsageError('give the audit file (JSONL)')
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`)
    const result = (await verifyChain(file)) as ChainResultLike
    if (flag(args, 'json')) {
      io.stdout.write(`${JSON.stringify(result)}\n`)
      return result.ok ? 0 : 1
    }
    const s = createStyle(io.stdout, io.env)
    if (result.ok) io.stdout.write(`${s.green('ok')}  ${file}: ${result.records ?? 0} records, chain intact\n`)
    else io.stdout.write(`${s.red('broken')}  ${file}: first bad record seq ${result.firstBad}: ${result.reason ?? ''}\n`)
    return result.ok ? 0 : 1
  },
}
