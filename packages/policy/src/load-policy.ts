import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { compileBundle, type TrustedKey } from './bundle.js'
import {
  type CompilePolicyOptions,
  checkOptions,
  compilePolicy,
  type PolicyDocument,
  type PolicySource,
} from './compile-policy.js'
import { PolicyError } from './errors.js'
import type { Policy } from './policy.js'

export interface LoadPolicyOptions extends Omit<CompilePolicyOptions, 'source'> {
  /** Keys that may sign bundles (`*.bundle.json`); a bundle without a trusted key is refused. */
  trustedKeys?: readonly TrustedKey[]
}

const POLICY_FILE = /\.(ya?ml|json)$/
const TEST_FILE = /_test\.(ya?ml|json)$/
const BUNDLE_FILE = /\.bundle\.json$/

/**
 * Loads a policy from a file, several files, a folder (every `.yaml`/`.yml`/`.json` in it,
 * recursively, in path order; `*_test.yaml` files are skipped), a signed bundle
 * (`*.bundle.json`, needs `trustedKeys`), or an in-memory document.
 * Exported from `@warden/policy`. Throws `PolicyError` (`ERR_POLICY_IO`, `ERR_POLICY_*`).
 * @example const policy = await loadPolicy('policies/')
 */
export async function loadPolicy(
  pathOrPaths: string | readonly string[] | PolicyDocument,
  options: LoadPolicyOptions = {},
): Promise<Policy> {
  checkOptions(options, 'loadPolicy')
  if (options.trustedKeys !== undefined && !Array.isArray(options.trustedKeys))
    throw new PolicyError('ERR_POLICY_INPUT', 'loadPolicy: options.trustedKeys must be an array')
  if (
    pathOrPaths === null ||
    (typeof pathOrPaths !== 'string' && typeof pathOrPaths !== 'object') ||
    (Array.isArray(pathOrPaths) && !pathOrPaths.every((p) => typeof p === 'string'))
  )
    throw new PolicyError(
      'ERR_POLICY_INPUT',
      'loadPolicy: expected a path, a list of paths (strings) or a policy document object',
    )
  if (typeof pathOrPaths === 'object' && !Array.isArray(pathOrPaths)) {
    return compilePolicy(pathOrPaths as PolicyDocument, { ...options, source: '<object>' })
  }
  const paths = typeof pathOrPaths === 'string' ? [pathOrPaths] : (pathOrPaths as readonly string[])
  if (paths.length === 0) throw new PolicyError('ERR_POLICY_IO', 'loadPolicy: no paths given')
  const files: string[] = []
  for (const p of paths) files.push(...(await expand(p)))
  const bundles = files.filter((f) => BUNDLE_FILE.test(f))
  if (bundles.length > 0) {
    if (files.length > 1) {
      throw new PolicyError(
        'ERR_POLICY_BUNDLE',
        'a bundle is a whole policy set: load it alone, not with other files',
        {
          file: bundles[0],
        },
      )
    }
    if (!options.trustedKeys?.length) {
      throw new PolicyError('ERR_POLICY_SIGNATURE', 'loading a bundle needs options.trustedKeys', {
        file: bundles[0],
      })
    }
    return compileBundle(await read(bundles[0]), options.trustedKeys, { ...options, source: bundles[0] })
  }
  if (files.length === 0)
    throw new PolicyError('ERR_POLICY_IO', `no policy files (.yaml, .yml, .json) in ${paths.join(', ')}`)
  const sources: PolicySource[] = []
  for (const f of files) sources.push({ source: f, text: await read(f) })
  return compilePolicy(sources, options)
}

/** Policy files under `path` (a file is itself), test files excluded, sorted. */
export async function expand(path: string): Promise<string[]> {
  let info: Awaited<ReturnType<typeof stat>>
  try {
    info = await stat(path)
  } catch (e) {
    throw new PolicyError(
      'ERR_POLICY_IO',
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      { file: path },
      { cause: e },
    )
  }
  if (info.isFile()) return [path]
  if (!info.isDirectory())
    throw new PolicyError('ERR_POLICY_IO', `${path} is neither a file nor a folder`, { file: path })
  const entries = await readdir(path, { recursive: true, withFileTypes: true })
  return entries
    .filter(
      (e) => e.isFile() && POLICY_FILE.test(e.name) && !TEST_FILE.test(e.name) && !e.name.startsWith('.'),
    )
    .map((e) => join(e.parentPath, e.name))
    .sort((a, b) => (relative(path, a) < relative(path, b) ? -1 : 1))
}

async function read(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (e) {
    throw new PolicyError(
      'ERR_POLICY_IO',
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      { file },
      { cause: e },
    )
  }
}
