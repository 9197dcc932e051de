import { type ParseArgsConfig, parseArgs } from 'node:util'

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
    // node:util parseArgs errors carry ERR_PARSE_ARGS_* codes; their messages already name the option.
    if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))
      throw new UsageError((error as Error).message)
    throw error
  }
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
