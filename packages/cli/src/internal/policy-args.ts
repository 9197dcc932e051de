import type { Policy } from '@warden/policy'
import { UsageError } from './args.js'
import { readStdin, STDIN } from './stdin.js'

/** Loads the policy paths of a command; `-` alone reads one policy document from stdin. */
export async function loadPolicyArgs(paths: readonly string[]): Promise<Policy> {
  const { compilePolicy, loadPolicy } = await import('@warden/policy')
  if (!paths.includes(STDIN)) return loadPolicy(paths)
  if (paths.length > 1) throw new UsageError('"-" (a policy on stdin) cannot be combined with other paths')
  return compilePolicy([{ source: '<stdin>', text: await readStdin() }])
}
