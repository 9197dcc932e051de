import type { CommandSpec } from '../internal/command.js'

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'Run the end-to-end demo (policy, masking, approvals, audit) on an embedded database',
  usage: 'demo [demo options]',
  details: `
Runs the main Warden demo. Options after \`demo\` are passed to the demo itself:
see \`warden demo --help\`.
`,
  options: {},
  run: (args) => runDemoCommand(args.positionals),
}

/** The demo (src/demo/) parses its own arguments; loaded only when asked for, it brings the embedded database. */
export async function runDemoCommand(argv: readonly string[]): Promise<number> {
  const { runDemo } = await import('../demo/demo.js')
  return runDemo([...argv])
}
