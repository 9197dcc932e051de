// Cerbos-style policy tests: `*_test.yaml` files list requests and the expected decision.
import { readdir, readFile, stat } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { z } from 'zod'
import type { Decision, Effect } from './decision.js'
import { PolicyError } from './errors.js'
import { formatPath, SourceText } from './internal/source-map.js'
import { type LoadPolicyOptions, loadPolicy } from './load-policy.js'
import type { RequestInput } from './request.js'

const fixture = z.record(z.string(), z.unknown())
const testFileSchema = z.strictObject({
  name: z.string().optional(),
  /** Policy files or folders, relative to the test file. Default: the test file's folder. */
  policies: z.array(z.string()).min(1).optional(),
  principals: z.record(z.string(), fixture).optional(),
  resources: z.record(z.string(), fixture).optional(),
  tests: z
    .array(
      z.strictObject({
        name: z.string().min(1),
        request: z.record(z.string(), z.unknown()),
        expect: z.strictObject({
          effect: z.enum(['allow', 'deny', 'approve']),
          rule: z.string().optional(),
          reason: z.string().optional(),
          masks: z.array(z.string()).optional(),
          /** Rule names expected in `matched` (exact list, in order). */
          matched: z.array(z.string()).optional(),
          /** Flow tags the decision adds (exact list). */
          tags: z.array(z.string()).optional(),
        }),
      }),
    )
    .min(1),
})

export interface PolicyTestExpectation {
  readonly effect: Effect
  readonly rule?: string
  readonly reason?: string
  readonly masks?: readonly string[]
  readonly matched?: readonly string[]
  readonly tags?: readonly string[]
}

export interface PolicyTestResult {
  readonly file: string
  readonly suite: string
  readonly name: string
  readonly ok: boolean
  readonly expected?: PolicyTestExpectation
  /** The decision's comparable parts. */
  readonly actual?: {
    effect: Effect
    rule: string
    reason: string
    masks: string[]
    matched: string[]
    tags: string[]
  }
  /** `- expected` / `+ actual` lines for each field that differs. */
  readonly diff: readonly string[]
  /** Set when the test file or its policy could not be loaded. */
  readonly error?: PolicyError
}

export interface PolicyTestReport {
  readonly ok: boolean
  readonly passed: number
  readonly failed: number
  readonly results: readonly PolicyTestResult[]
}

const TEST_FILE = /_test\.(ya?ml|json)$/

/**
 * Runs policy test files (`*_test.yaml`, or folders containing them) and reports every case.
 * Never throws for a failing test or a broken file: those are failed results with `diff`/`error`.
 * Exported from `@warden/policy`. Throws `ERR_POLICY_IO` when a path does not exist or holds no test file.
 * @example const report = await runPolicyTests(['examples/policies']); if (!report.ok) process.exitCode = 1
 */
export async function runPolicyTests(
  paths: string | readonly string[],
  options: LoadPolicyOptions = {},
): Promise<PolicyTestReport> {
  const list = typeof paths === 'string' ? [paths] : paths
  const files: string[] = []
  for (const p of list) files.push(...(await findTestFiles(p)))
  if (files.length === 0) throw new PolicyError('ERR_POLICY_IO', `no *_test.yaml files in ${list.join(', ')}`)
  const results: PolicyTestResult[] = []
  for (const file of files) results.push(...(await runFile(file, options)))
  const failed = results.filter((r) => !r.ok).length
  return Object.freeze({
    ok: failed === 0,
    passed: results.length - failed,
    failed,
    results: Object.freeze(results),
  })
}

async function findTestFiles(path: string): Promise<string[]> {
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
  const entries = await readdir(path, { recursive: true, withFileTypes: true })
  return entries
    .filter((e) => e.isFile() && TEST_FILE.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .sort()
}

async function runFile(file: string, options: LoadPolicyOptions): Promise<PolicyTestResult[]> {
  const broken = (error: PolicyError): PolicyTestResult[] => [
    { file, suite: file, name: '(load)', ok: false, diff: [], error },
  ]
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    return broken(new PolicyError('ERR_POLICY_IO', `cannot read ${file}`, { file }, { cause: e }))
  }
  const src = new SourceText(text)
  if (src.doc.errors[0]) {
    const e = src.doc.errors[0]
    return broken(
      new PolicyError('ERR_POLICY_TEST', `invalid YAML: ${e.message.split('\n')[0]}`, {
        file,
        ...src.position(e.pos[0]),
      }),
    )
  }
  let raw: unknown
  try {
    raw = src.doc.toJS({ maxAliasCount: 100 })
  } catch (e) {
    return broken(
      new PolicyError(
        'ERR_POLICY_TEST',
        `invalid YAML: ${(e as Error).message.split('\n')[0]}`,
        { file },
        { cause: e },
      ),
    )
  }
  const parsed = testFileSchema.safeParse(raw)
  if (!parsed.success) {
    // a misspelt key also makes the right one "missing": report the unknown key, it is the cause
    const issue = parsed.error.issues.find((i) => i.code === 'unrecognized_keys') ?? parsed.error.issues[0]
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol')
    const key = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined
    const detail = key ? `unknown key "${key}"` : issue.message
    return broken(
      new PolicyError('ERR_POLICY_TEST', detail, {
        file,
        ...src.position(src.offsetOf(path, key)),
        path: formatPath(path),
      }),
    )
  }
  const t = parsed.data
  const suite = t.name ?? file
  const base = dirname(file)
  let policy: Awaited<ReturnType<typeof loadPolicy>>
  try {
    policy = await loadPolicy(t.policies ? t.policies.map((p) => resolve(base, p)) : base, options)
  } catch (e) {
    return broken(e instanceof PolicyError ? e : new PolicyError('ERR_POLICY_TEST', String(e), { file }))
  }
  return t.tests.map((c, i): PolicyTestResult => {
    let request: RequestInput
    try {
      request = buildRequest(c.request, t.principals ?? {}, t.resources ?? {})
    } catch (e) {
      const pos = src.position(src.offsetOf(['tests', i, 'request']))
      return {
        file,
        suite,
        name: c.name,
        ok: false,
        diff: [],
        error: new PolicyError('ERR_POLICY_TEST', (e as Error).message, { file, ...pos }),
      }
    }
    const d = policy.decide(request)
    const actual = summarize(d)
    const diff = compare(c.expect, actual)
    return { file, suite, name: c.name, ok: diff.length === 0, expected: c.expect, actual, diff }
  })
}

function summarize(d: Decision) {
  return {
    effect: d.effect,
    rule: d.rule,
    reason: d.reason,
    masks: d.masks.map((m) => m.name),
    matched: d.matched.map((m) => m.rule),
    tags: [...(d.tags ?? [])],
  }
}

function compare(expected: PolicyTestExpectation, actual: ReturnType<typeof summarize>): string[] {
  const diff: string[] = []
  const line = (field: string, e: unknown, a: unknown) => {
    if (JSON.stringify(e) !== JSON.stringify(a))
      diff.push(`- ${field}: ${JSON.stringify(e)}`, `+ ${field}: ${JSON.stringify(a)}`)
  }
  line('effect', expected.effect, actual.effect)
  if (expected.rule !== undefined) line('rule', expected.rule, actual.rule)
  if (expected.reason !== undefined) line('reason', expected.reason, actual.reason)
  if (expected.masks !== undefined) line('masks', [...expected.masks], actual.masks)
  if (expected.matched !== undefined) line('matched', [...expected.matched], actual.matched)
  if (expected.tags !== undefined) line('tags', [...expected.tags], actual.tags)
  return diff
}

function buildRequest(
  raw: Record<string, unknown>,
  principals: Record<string, Record<string, unknown>>,
  resources: Record<string, Record<string, unknown>>,
): RequestInput {
  const r: Record<string, unknown> = { ...raw }
  if (typeof r.principal === 'string') {
    const p = principals[r.principal]
    if (!p) throw new Error(`unknown principal fixture "${r.principal}"`)
    r.principal = p
  }
  if (typeof r.resource === 'string') {
    const p = resources[r.resource]
    if (!p) throw new Error(`unknown resource fixture "${r.resource}"`)
    r.resource = p
  }
  // YAML has no timestamp type in the core schema: accept ISO strings for the time fields.
  const asDate = (v: unknown, field: string) => {
    if (typeof v !== 'string') return v
    const d = new Date(v)
    if (Number.isNaN(d.getTime())) throw new Error(`${field}: "${v}" is not an ISO timestamp`)
    return d
  }
  if (r.now !== undefined) r.now = asDate(r.now, 'now')
  if (r.session && typeof r.session === 'object') {
    const s = { ...(r.session as Record<string, unknown>) }
    if (s.startedAt !== undefined) s.startedAt = asDate(s.startedAt, 'session.startedAt')
    r.session = s
  }
  return r as RequestInput
}
