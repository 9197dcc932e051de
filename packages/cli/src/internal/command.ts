import type { OptionSpecs, ParsedArgs } from './args.js'
import type { Io } from './io.js'

/** One `warden <group> <name>` command: its help text, its options, and what it does. */
export interface CommandSpec {
  /** e.g. `policy check` */
  readonly name: string
  readonly summary: string
  /** Usage line without the leading `warden `. */
  readonly usage: string
  /** Option and exit-code descriptions, printed under the usage line. */
  readonly details: string
  readonly options: OptionSpecs
  run(args: ParsedArgs, io: Io): Promise<number>
}
