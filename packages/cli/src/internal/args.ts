import { type ParseArgsConfig, parseArgs } from 'node:util'
import { didYouMean } from './suggest.js'

export type OptionSpecs = NonNullable<ParseArgsConfig['options']>

/** A wrong invocation: printed with the command's usage line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | string[] | boolean[] | undefined>
  readonly positionals: string[]
}

export function parseCommandArgs(argv: readonly string[], options: OptionSpecs): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    })
    return { values: values as ParsedArgs['values'], positionals }
  } catch (error) {
    const code = (error as { code?: string }).code
    if (!code?.startsWith('ERR_PARSE_ARGS')) throw error
    throw new UsageError(usageMessage(code, (error as Error).message, options))
  }
}

/** parseArgs' complaint in Warden's words, with the closest known option when one is near. */
function usageMessage(code: string, message: string, options: OptionSpecs): string {
  const named = /'(-[^' ]+)'|--([\w-]+)/.exec(message)
  const given = named?.[1] ?? (named?.[2] ? `--${named[2]}` : '')
  const known = Object.entries({ ...options, help: { type: 'boolean', short: 'h' } as const })
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const bare = given.replace(/^-+/, '').replace(/=.*$/, '')
    const names = known.map(([name]) => name)
    return `unknown option ${given || message}${didYouMean(bare, names, (n) => `--${n}`)}`
  }
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const long = /--([\w-]+)/.exec(message)?.[1] ?? given.replace(/^-+/, '')
    const spec = known.find(([name, o]) => name === long || o.short === long)
    if (spec?.[1].type === 'boolean') return `option --${spec[0]} is a switch and takes no value`
    return `option --${spec?.[0] ?? long} needs a value`
  }
  return message
}

export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const value = args.values[name]
  return typeof value === 'string' ? value : undefined
}

export function requireOption(args: ParsedArgs, name: string): string {
  const value = stringOption(args, name)
  if (value === undefined || value === '') throw new UsageError(`missing --${name}`)
  return value
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true
}
