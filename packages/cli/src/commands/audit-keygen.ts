import { access, rm, writeFile } from 'node:fs/promises'
import { flag, stringOption, UsageError } from '../internal/args.js'
import { CliError } from '../internal/cli-error.js'
import type { CommandSpec } from '../internal/command.js'
import { createStyle } from '../internal/io.js'

export const auditKeygen: CommandSpec = {
  name: 'audit keygen',
  summary: 'Write an Ed25519 key pair for signing audit checkpoints',
  usage: 'audit keygen [--out NAME] [--force]',
  details: `
Writes NAME.key (the private key, PKCS8 PEM, mode 0600) for the process that writes the
audit log (jsonlSink's checkpoints.key, createCheckpointer), and NAME.pub (the public key,
SPKI PEM) for whoever verifies: \`warden audit verify --public-key NAME.pub\`. Prints the
key id the checkpoints will carry (kid). Keep the private key out of reach of anyone who
could edit the log, and the public key where verifiers trust it (docs/audit.md in @warden/core).

Options:
  --out NAME   path prefix of the two files (default: warden-audit)
  --force      replace existing files

Exit codes: 0 written, 2 a file exists (without --force), cannot be written, or bad usage.
`,
  options: { out: { type: 'string', short: 'o' }, force: { type: 'boolean' } },
  async run(args, io) {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument "${args.positionals[0]}"`)
    const out = stringOption(args, 'out') ?? 'warden-audit'
    if (out === '') throw new UsageError('--out must name a path')
    const { generateCheckpointKeys } = await import('@warden/core')
    const keys = generateCheckpointKeys()
    const files = [`${out}.key`, `${out}.pub`]
    if (!flag(args, 'force'))
      for (const file of files) {
        const exists = await access(file).then(
          () => true,
          () => false,
        )
        if (exists) throw new CliError(`${file} exists (use --force to replace it)`, 2)
      }
    for (const [file, text, mode] of [
      [`${out}.key`, keys.privateKey, 0o600],
      [`${out}.pub`, keys.publicKey, 0o644],
    ] as const) {
      try {
        // Replaced, not rewritten: an existing file would keep its mode while the key is written.
        await rm(file, { force: true })
        await writeFile(file, text, { mode, flag: 'wx' })
      } catch (error) {
        throw new CliError(`cannot write ${file}: ${(error as NodeJS.ErrnoException).code}`, 2)
      }
    }
    const s = createStyle(io.stdout, io.env)
    io.stdout.write(
      `${s.green('ok')}  wrote ${out}.key (private, 0600) and ${out}.pub (public); key id ${keys.kid}\n`,
    )
    return 0
  },
}
