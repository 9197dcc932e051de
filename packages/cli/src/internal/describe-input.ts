// A command given on the command line (--sql, --shell, --http, --kube), described by the same
// describers the drivers use, so the facts are exactly what a policy would see.

import type { OptionSpecs } from './args.js'
import { type ParsedArgs, stringOption, UsageError } from './args.js'
import { CliError } from './cli-error.js'

export const DESCRIBE_OPTIONS = {
  sql: { type: 'string' },
  dialect: { type: 'string' },
  shell: { type: 'string' },
  http: { type: 'string' },
  kube: { type: 'string' },
} as const satisfies OptionSpecs

export const DESCRIBE_HELP = `  --sql TEXT                 SQL, described by the PostgreSQL parser (or --dialect mysql: MariaDB/MySQL)
  --dialect postgres|mysql   which SQL parser (default postgres)
  --shell TEXT               a shell command line, as ssh exec runs it
  --http METHOD URL          an HTTP request (method, then the URL as the next argument)
  --kube METHOD PATH         a Kubernetes API request (method, then the path and query)`

export interface DescribedCommand {
  readonly action: string
  /** The request field the facts go in: sql, shell, http, kube. */
  readonly family: 'sql' | 'shell' | 'http' | 'kube'
  readonly kind: 'postgres' | 'mysql' | 'ssh' | 'http' | 'kubernetes'
  readonly facts: unknown
}

const MODES = ['sql', 'shell', 'http', 'kube'] as const

/** Which --sql/--shell/--http/--kube was given, or undefined for none; two is a usage error. */
export function describeMode(args: ParsedArgs): (typeof MODES)[number] | undefined {
  const given = MODES.filter((m) => stringOption(args, m) !== undefined)
  if (given.length > 1)
    throw new UsageError(
      `give one of --sql, --shell, --http, --kube (got ${given.map((g) => `--${g}`).join(', ')})`,
    )
  if (stringOption(args, 'dialect') !== undefined && given[0] !== 'sql')
    throw new UsageError('--dialect goes with --sql')
  return given[0]
}

/** `--http GET https://x` (the URL is the next argument) or `--http "GET https://x"`. */
function methodAndTarget(args: ParsedArgs, mode: 'http' | 'kube', positionals: string[]): [string, string] {
  const value = stringOption(args, mode) ?? ''
  const [method, inline] = value.trim().split(/\s+/, 2)
  const target = inline ?? positionals.shift()
  const what = mode === 'http' ? 'URL' : 'path'
  if (!method || target === undefined)
    throw new UsageError(`--${mode} needs a method and a ${what}: --${mode} GET <${what}>`)
  return [method.toUpperCase(), target]
}

/** Describes the command in `args` with @warden/drivers' describers; positionals may hold the URL/path. */
export async function describeFromArgs(
  args: ParsedArgs,
  positionals: string[],
): Promise<DescribedCommand | undefined> {
  const mode = describeMode(args)
  try {
    switch (mode) {
      case undefined:
        return undefined
      case 'sql': {
        const text = stringOption(args, 'sql') as string
        const dialect = stringOption(args, 'dialect') ?? 'postgres'
        if (dialect === 'postgres') {
          const { describePostgres } = await import('@warden/drivers/pg')
          return { action: 'sql.query', family: 'sql', kind: 'postgres', facts: await describePostgres(text) }
        }
        if (dialect === 'mysql' || dialect === 'mariadb') {
          const { describeMysql } = await import('@warden/drivers/mysql')
          return { action: 'sql.query', family: 'sql', kind: 'mysql', facts: await describeMysql(text) }
        }
        throw new UsageError(`--dialect is postgres or mysql, not "${dialect}"`)
      }
      case 'shell': {
        const { describeShell } = await import('@warden/drivers/ssh')
        const facts = await describeShell(stringOption(args, 'shell') as string)
        return { action: 'ssh.exec', family: 'shell', kind: 'ssh', facts }
      }
      case 'http': {
        const [method, url] = methodAndTarget(args, 'http', positionals)
        const { describeHttp } = await import('@warden/drivers/fetch')
        return { action: 'http.request', family: 'http', kind: 'http', facts: describeHttp(method, url) }
      }
      case 'kube': {
        const [method, path] = methodAndTarget(args, 'kube', positionals)
        const { describeKube } = await import('@warden/drivers/kube')
        const facts = describeKube(method, path)
        return { action: `kube.${facts.verb}`, family: 'kube', kind: 'kubernetes', facts }
      }
    }
  } catch (error) {
    if (error instanceof UsageError) throw error
    // a describer's refusal (a kube path the API server would split, a URL that does not parse…)
    const e = error as { code?: string; message?: string }
    throw new CliError(`cannot describe it: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}`, 2)
  }
}
