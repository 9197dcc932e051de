import { UsageError } from '../internal/args.js'
import type { CommandSpec } from '../internal/command.js'
import { compactJson } from '../internal/compact-json.js'
import { DESCRIBE_HELP, DESCRIBE_OPTIONS, describeFromArgs } from '../internal/describe-input.js'

export const describeCommand: CommandSpec = {
  name: 'describe',
  summary: 'Print the facts Warden derives from a SQL text, shell line, HTTP or Kubernetes request',
  usage:
    'describe --sql TEXT [--dialect postgres|mysql] | --shell TEXT | --http METHOD URL | --kube METHOD PATH',
  details: `
Runs the real describers of @warden/drivers (the PostgreSQL and MariaDB parsers, the bash
parser, the HTTP and Kubernetes request readers) on the text and prints, as JSON, the action
and the facts a policy's \`when\` sees (sql.*, shell.*, http.*, kube.*). Add a principal and a
resource and it is a request for \`warden policy eval --request\`.

Options:
${DESCRIBE_HELP}

Examples:
  warden describe --sql "DELETE FROM orders"
  warden describe --shell "journalctl -u nginx | tail -n 50"
  warden describe --http POST https://api.example.com/v1/charges
  warden describe --kube DELETE /api/v1/namespaces/prod/pods/web-1

Exit codes: 0 described (also text that does not parse: see parsed and error), 2 bad usage
or a request the describer refuses (e.g. a Kubernetes path the API server would split).
`,
  options: DESCRIBE_OPTIONS,
  async run(args, io) {
    const positionals = [...args.positionals]
    const described = await describeFromArgs(args, positionals)
    if (described === undefined) throw new UsageError('give --sql, --shell, --http or --kube')
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`)
    const request = { action: described.action, [described.family]: described.facts }
    io.stdout.write(`${compactJson(request)}\n`)
    return 0
  },
}
