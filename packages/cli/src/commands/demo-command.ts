import { CliError } from '../internal/cli-error.js'
import type { CommandSpec } from '../internal/command.js'

type DemoModule = { runDemo(argv: string[]): Promise<number> }

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'Run the end-to-end demo (policy, masking, approvals, audit) on an embedded database',
  usage: 'demo [demo options]',
  details: `
Runs the main Warden demo. Options after \`demo\` are passed to the demo itself;
see \`warden demo --help\` once it runs.
`,
  options: {},
  async run() {
    throw new CliError('unreachable: demo arguments are passed through', 2)
  },
}

/** The demo lives in src/demo/ (written separately) and parses its own arguments. */
export async function runDemoCommand(argv: readonly string[]): Promise<number> {
  // A variable specifier keeps tsc from requiring the module at build time, so the CLI
  // builds before the demo exists and reports its absence clearly at run time.
  const specifier = './demo/demo.js'
  let mod: DemoModule
  try {
    mod = (await import(new URL(`../${specifier}`, import.meta.url).href)) as DemoModule
  } catch (error) {
    const e = error as { code?: string; url?: string; message?: string }
    if (e.code === 'ERR_MODULE_NOT_FOUND' && `${e.url ?? ''} ${e.message ?? ''}`.includes('demo/demo')) {
      throw new CliError('the demo is not part of this build (packages/cli/src/demo/demo.ts is missing)', 2)
    }
    throw error
  }
  if (typeof mod.runDemo !== 'function')
    throw new CliError('packages/cli/src/demo/demo.ts does not export runDemo()', 2)
  return mod.runDemo([...argv])
}
