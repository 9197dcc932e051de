// "Approve the effect, not the text": the pg driver's built-in approval preview. A SQL write held
// for approval runs once inside a transaction (or a savepoint, inside the caller's transaction)
// that is always rolled back; the approver sees the rows affected per statement and a masked
// sample of the changed rows. Only statements that are safe to execute-and-roll-back are dry-run:
// plain INSERT/UPDATE/DELETE/MERGE calling only side-effect-free built-ins, on plain tables with
// no user triggers, rules or non-built-in functions in defaults, checks or policies (checked in
// the catalog, including inheritance children and ON DELETE/UPDATE cascades). Everything else
// gets "no preview" and still goes to the approver. On approval the statement runs in a
// transaction again and is rolled back (ERR_WARDEN_PREVIEW_MISMATCH) when its row counts differ.

import type { ApprovalPreview, Masker } from '@warden/core'
import type { SqlFacts } from '@warden/policy'
import { WardenError } from '@warden/policy'
import { parseSync, scanSync } from 'libpg-query'
import { scrubError } from './internal/scrub-error.js'
import { escapeIdentifier } from './pg-internals.js'

/** Rows in a preview's sample, at most. */
export const SAMPLE_ROWS = 5
/** Columns per sample row, at most. */
const SAMPLE_COLUMNS = 32
/** Characters per sample value, at most. */
const SAMPLE_CHARS = 200
/** statement_timeout and lock_timeout of the dry run. */
const DRY_RUN_TIMEOUT_MS = 10_000

const DML = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE'])
/** Statement types a dry-run statement may contain (nested reads and writing CTEs). */
const NESTED_OK = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE'])

/**
 * Built-in functions without effects outside the transaction (no sequences, locks that outlive it,
 * signals, files, network or dynamic SQL). Anything not listed means "no preview". Names that
 * also exist outside pg_catalog in the database are refused at dry-run time (no shadowing).
 */
const SAFE_FUNCTIONS: ReadonlySet<string> = new Set([
  // text
  'lower',
  'upper',
  'initcap',
  'length',
  'char_length',
  'character_length',
  'octet_length',
  'bit_length',
  'substr',
  'substring',
  'trim',
  'btrim',
  'ltrim',
  'rtrim',
  'replace',
  'translate',
  'concat',
  'concat_ws',
  'format',
  'left',
  'right',
  'lpad',
  'rpad',
  'repeat',
  'reverse',
  'split_part',
  'position',
  'strpos',
  'starts_with',
  'overlay',
  'md5',
  'sha224',
  'sha256',
  'sha384',
  'sha512',
  'encode',
  'decode',
  'quote_ident',
  'quote_literal',
  'quote_nullable',
  'regexp_replace',
  'regexp_match',
  'regexp_matches',
  'regexp_like',
  'regexp_count',
  'regexp_substr',
  'regexp_split_to_array',
  'regexp_split_to_table',
  'string_to_array',
  'array_to_string',
  'ascii',
  'chr',
  'to_hex',
  'normalize',
  // numbers
  'abs',
  'round',
  'trunc',
  'ceil',
  'ceiling',
  'floor',
  'mod',
  'power',
  'pow',
  'sqrt',
  'cbrt',
  'exp',
  'ln',
  'log',
  'log10',
  'sign',
  'div',
  'width_bucket',
  'random',
  'gcd',
  'lcm',
  'scale',
  // time
  'now',
  'clock_timestamp',
  'statement_timestamp',
  'transaction_timestamp',
  'timeofday',
  'date_trunc',
  'date_part',
  'date_bin',
  'extract',
  'age',
  'make_date',
  'make_time',
  'make_timestamp',
  'make_timestamptz',
  'make_interval',
  'to_char',
  'to_date',
  'to_timestamp',
  'to_number',
  'timezone',
  'justify_days',
  'justify_hours',
  'justify_interval',
  'isfinite',
  // json
  'to_json',
  'to_jsonb',
  'json_build_object',
  'jsonb_build_object',
  'json_build_array',
  'jsonb_build_array',
  'json_object',
  'jsonb_object',
  'jsonb_set',
  'jsonb_set_lax',
  'jsonb_insert',
  'jsonb_strip_nulls',
  'json_strip_nulls',
  'jsonb_pretty',
  'jsonb_typeof',
  'json_typeof',
  'jsonb_array_length',
  'json_array_length',
  'jsonb_extract_path',
  'jsonb_extract_path_text',
  'json_extract_path',
  'json_extract_path_text',
  'jsonb_array_elements',
  'json_array_elements',
  'jsonb_array_elements_text',
  'json_array_elements_text',
  'jsonb_each',
  'jsonb_each_text',
  'json_each',
  'json_each_text',
  'jsonb_object_keys',
  'json_object_keys',
  'jsonb_path_query',
  'jsonb_path_exists',
  'jsonb_path_match',
  'jsonb_path_query_first',
  'row_to_json',
  // arrays and sets
  'array_append',
  'array_prepend',
  'array_remove',
  'array_replace',
  'array_cat',
  'array_length',
  'array_lower',
  'array_upper',
  'array_ndims',
  'array_dims',
  'array_position',
  'array_positions',
  'cardinality',
  'unnest',
  'generate_series',
  'generate_subscripts',
  // aggregates and windows
  'count',
  'sum',
  'min',
  'max',
  'avg',
  'bool_and',
  'bool_or',
  'every',
  'string_agg',
  'array_agg',
  'json_agg',
  'jsonb_agg',
  'json_object_agg',
  'jsonb_object_agg',
  'row_number',
  'rank',
  'dense_rank',
  'percent_rank',
  'cume_dist',
  'ntile',
  'lag',
  'lead',
  'first_value',
  'last_value',
  'nth_value',
  // misc
  'gen_random_uuid',
  'num_nulls',
  'num_nonnulls',
  'current_setting',
  'pg_typeof',
])

/** What the driver needs to dry-run one query (made once per command from its facts). */
export interface PreviewPlan {
  /** The text to dry-run: the original, or with ` RETURNING *` added where it had none. */
  readonly text: string
  /** The text as the caller wrote it (the fallback when the added RETURNING fails). */
  readonly original: string
  /** `UPDATE orders`, per top-level statement: for the summary. */
  readonly labels: readonly string[]
  /** Every written table as a quoted name (`"public"."orders"`), for the catalog check. */
  readonly targets: readonly string[]
  /** Bare names of the functions the text calls, for the shadowing check. */
  readonly functions: readonly string[]
  /**
   * A single plain UPDATE (no FROM, no WITH) given RETURNING *: its table and assigned columns, so
   * the dry run can also read the sampled rows as they were (by primary key) for a before → after.
   */
  readonly before?: { readonly table: string; readonly assigned: readonly string[] }
  /** What the sample rows are: new rows (plain INSERTs), rows as removed (DELETEs), or after an update. */
  readonly rowsAre?: 'inserted' | 'removed'
}

/** The connection a dry run or a guarded run talks through (implemented by the Client). */
export interface PreviewChannel {
  /** The connection's transaction status from its last ReadyForQuery: 'I', 'T' or 'E'. */
  status(): string | undefined
  /** Runs driver-internal SQL (not audited, results not masked: catalog and transaction control only). */
  control(text: string, values?: readonly unknown[]): Promise<{ readonly rows: readonly unknown[] }>
  /** Runs the statement under masks: rows affected per statement, first `limit` rows as text. */
  sample(
    text: string,
    values: readonly unknown[] | undefined,
    masker: Masker | null,
    limit: number,
  ): Promise<SampleResult>
}

export interface SampleResult {
  readonly counts: readonly number[]
  /** Up to `limit` rows over all statements, each with its statement's column names. */
  readonly rows: readonly {
    readonly statement: number
    readonly columns: readonly string[]
    readonly values: readonly unknown[]
  }[]
}

/** The outcome of a dry run: the preview to show, and the counts to hold the approved run to. */
export interface DryRun {
  readonly preview: ApprovalPreview
  /** Set only when the statement ran and was rolled back: the guard for the approved run. */
  readonly rowsAffected?: readonly number[]
}

/** A write that cannot be dry-run: the approver is told so (and sees no numbers). */
function noPreview(reason: string): DryRun {
  return { preview: Object.freeze({ summary: `no preview: ${reason}` }) }
}

/**
 * Decides from the parsed facts whether `text` may be dry-run. Returns the plan, a "no preview"
 * result for writes that are not safe to execute-and-roll-back, or undefined for statements that
 * write nothing (nothing to preview).
 */
export function planPreview(facts: SqlFacts): PreviewPlan | DryRun | undefined {
  if (!facts.parsed) return noPreview('the statement could not be parsed')
  if (!facts.write) return undefined
  const flags = facts.flags.filter((f) => f !== 'multi_statement')
  if (flags.length > 0) return noPreview(`the statement uses ${flags.join(', ')}`)
  const top = facts.statements.map((s) => s.type)
  const other = top.find((t) => !DML.has(t))
  if (other !== undefined)
    return noPreview(
      `${other} is not a plain INSERT, UPDATE, DELETE or MERGE (not safe to run and roll back)`,
    )
  const nested = facts.types.find((t) => !NESTED_OK.has(t))
  if (nested !== undefined) return noPreview(`the statement runs ${nested}`)
  const functions = new Set<string>()
  // Qualified names first: the message then names the function as written.
  const names = [...facts.functions].sort((a, b) => Number(b.includes('.')) - Number(a.includes('.')))
  for (const name of names) {
    const dot = name.lastIndexOf('.')
    if (dot >= 0) {
      if (name.slice(0, dot) !== 'pg_catalog')
        return noPreview(`it calls ${name}, which may have effects outside the transaction`)
      continue
    }
    if (!SAFE_FUNCTIONS.has(name))
      return noPreview(`it calls ${name}(), which may have effects outside the transaction`)
    functions.add(name)
  }
  let parsed: ParsedStmt[]
  try {
    parsed = (parseSync(facts.text) as unknown as { stmts: ParsedStmt[] }).stmts
  } catch {
    return noPreview('the statement could not be parsed')
  }
  const targets = new Set<string>()
  const labels: string[] = []
  for (const entry of parsed) {
    const [kind, body] = tagged(entry.stmt)
    const relation = body.relation as RangeVar | undefined
    if (relation === undefined) return noPreview('the statement has no target table')
    labels.push(`${kind.replace(/Stmt$/, '').toUpperCase()} ${displayName(relation)}`)
    collectTargets(entry.stmt, targets)
  }
  const text = withReturning(facts.text, parsed) ?? facts.text
  const kinds = parsed.map((entry) => tagged(entry.stmt))
  let before: PreviewPlan['before']
  const [only] = kinds
  if (kinds.length === 1 && only?.[0] === 'UpdateStmt' && text !== facts.text) {
    const body = only[1]
    if (body.fromClause === undefined && body.withClause === undefined) {
      const assigned = ((body.targetList ?? []) as { ResTarget?: { name?: string } }[]).map(
        (t) => t.ResTarget?.name ?? '',
      )
      before = { table: quotedName(body.relation as RangeVar), assigned }
    }
  }
  const rowsAre = kinds.every(([k, b]) => k === 'InsertStmt' && b.onConflictClause === undefined)
    ? 'inserted'
    : kinds.every(([k]) => k === 'DeleteStmt')
      ? 'removed'
      : undefined
  return Object.freeze({
    text,
    original: facts.text,
    labels,
    targets: [...targets],
    functions: [...functions],
    ...(before ? { before } : {}),
    ...(rowsAre ? { rowsAre } : {}),
  })
}

export function isPlan(value: PreviewPlan | DryRun | undefined): value is PreviewPlan {
  return value !== undefined && 'targets' in value
}

/**
 * Runs the plan in a transaction (a savepoint inside the caller's transaction) that is always
 * rolled back, and returns the preview. A statement that fails, times out or is found unsafe in
 * the catalog yields "no preview"; only a failed rollback throws (and the caller must drop the
 * connection, which makes the server roll back).
 */
export async function dryRun(
  channel: PreviewChannel,
  plan: PreviewPlan,
  values: readonly unknown[] | undefined,
  masker: Masker | null,
): Promise<DryRun> {
  // The catalog check also waits for queries queued before this one, so status() is current after it.
  let problems: readonly { problem: string }[]
  try {
    problems = (await channel.control(SAFETY_SQL, [plan.targets, plan.functions])).rows as {
      problem: string
    }[]
  } catch (err) {
    return noPreview(failure(err, masker))
  }
  if (problems.length > 0) {
    return noPreview(
      `${problems.map((p) => p.problem).join('; ')} (may have effects outside the transaction)`,
    )
  }
  const status = channel.status()
  if (status === 'E') return noPreview('the transaction on this connection has failed')
  const nested = status === 'T'
  try {
    // READ WRITE: the connection's session default is read-only between writes (read-only-mode.ts).
    await channel.control(nested ? 'SAVEPOINT warden_preview' : 'BEGIN READ WRITE')
  } catch (err) {
    return noPreview(failure(err, masker))
  }
  const outcome = await runRolledBack(channel, plan, values, masker)
  try {
    await channel.control(
      nested ? 'ROLLBACK TO SAVEPOINT warden_preview; RELEASE SAVEPOINT warden_preview' : 'ROLLBACK',
    )
  } catch (err) {
    // Never report a preview whose effect may not have been undone.
    throw new WardenError(
      'ERR_WARDEN_PREVIEW_FAILED',
      `the approval preview could not be rolled back (${failure(err, masker)}); the connection is dropped so the server rolls it back`,
      { cause: err },
    )
  }
  return outcome
}

async function runRolledBack(
  channel: PreviewChannel,
  plan: PreviewPlan,
  values: readonly unknown[] | undefined,
  masker: Masker | null,
): Promise<DryRun> {
  let result: SampleResult
  // Whether the sample has every column (the added RETURNING *): only then can it be matched to before-rows.
  let whole = false
  try {
    await channel.control(
      `SET LOCAL statement_timeout = ${DRY_RUN_TIMEOUT_MS}; SET LOCAL lock_timeout = ${DRY_RUN_TIMEOUT_MS}`,
    )
    if (plan.before !== undefined) await channel.control('SAVEPOINT warden_before')
    if (plan.text !== plan.original) {
      // The added RETURNING * can fail where the statement would not (column privileges, rules,
      // row security): fall back to the statement as written, for the counts alone.
      await channel.control('SAVEPOINT warden_returning')
      try {
        result = await channel.sample(plan.text, values, masker, SAMPLE_ROWS)
        whole = true
      } catch (err) {
        if (!isServerError(err)) throw err
        await channel.control('ROLLBACK TO SAVEPOINT warden_returning')
        result = await channel.sample(plan.original, values, masker, SAMPLE_ROWS)
      }
    } else {
      result = await channel.sample(plan.original, values, masker, SAMPLE_ROWS)
    }
  } catch (err) {
    return noPreview(failure(err, masker))
  }
  const counts = result.counts
  if (counts.length !== plan.labels.length)
    return noPreview(`expected ${plan.labels.length} statement results, got ${counts.length}`)
  const summary = plan.labels
    .map((label, i) => `${label}: ${counts[i]} ${counts[i] === 1 ? 'row' : 'rows'}`)
    .join('; ')
  const multi = plan.labels.length > 1
  const sample = result.rows.map((row) => sampleRow(row, multi))
  let before: readonly (Record<string, unknown> | null)[] | undefined
  if (plan.before !== undefined && whole && sample.length > 0)
    before = await beforeRows(channel, plan.before, result.rows, masker)
  else if (plan.rowsAre === 'inserted' && sample.length > 0) before = sample.map(() => null)
  const preview: ApprovalPreview = {
    summary,
    rowsAffected: Object.freeze([...counts]),
    ...(sample.length > 0 ? { sample: Object.freeze(sample) } : {}),
    ...(before !== undefined ? { before: Object.freeze(before) } : {}),
    ...(plan.rowsAre === 'removed' && sample.length > 0 ? { sampleOf: 'removed' as const } : {}),
    method: 'dry run in a rolled-back transaction',
  }
  return { preview: Object.freeze(preview), rowsAffected: preview.rowsAffected }
}

const PRIMARY_KEY_SQL =
  'SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) ' +
  'WHERE i.indrelid = $1::regclass AND i.indisprimary'

/**
 * The sampled rows of an UPDATE as they were: the update is rolled back to its savepoint and the
 * rows read again by primary key, under the same masks. Undefined (no before-values) when the
 * table has no primary key, the update assigns one of its columns, a key is masked (it then
 * matches no row) or any row is not found: a before-row is shown only when it is certainly the one.
 */
async function beforeRows(
  channel: PreviewChannel,
  target: NonNullable<PreviewPlan['before']>,
  rows: SampleResult['rows'],
  masker: Masker | null,
): Promise<Record<string, unknown>[] | undefined> {
  try {
    const key = ((await channel.control(PRIMARY_KEY_SQL, [target.table])).rows as { attname: string }[]).map(
      (r) => r.attname,
    )
    if (key.length === 0 || key.some((c) => target.assigned.includes(c))) return undefined
    const tuples: string[][] = []
    for (const row of rows) {
      const tuple = key.map((c) => row.values[row.columns.indexOf(c)])
      if (tuple.some((v) => typeof v !== 'string')) return undefined
      tuples.push(tuple as string[])
    }
    await channel.control('ROLLBACK TO SAVEPOINT warden_before')
    const where = tuples
      .map(
        (_, r) =>
          `(${key.map((c, j) => `${escapeIdentifier(c)}::text = $${r * key.length + j + 1}`).join(' AND ')})`,
      )
      .join(' OR ')
    const found = await channel.sample(
      `SELECT * FROM ${target.table} WHERE ${where}`,
      tuples.flat(),
      masker,
      rows.length,
    )
    const byKey = new Map<string, Record<string, unknown>>()
    for (const row of found.rows)
      byKey.set(JSON.stringify(key.map((c) => row.values[row.columns.indexOf(c)])), sampleRow(row, false))
    const out = tuples.map((tuple) => byKey.get(JSON.stringify(tuple)))
    return out.every((r) => r !== undefined) ? (out as Record<string, unknown>[]) : undefined
  } catch (err) {
    if (!isServerError(err)) throw err
    return undefined // the counts and the sample stand; the transaction is rolled back after this anyway
  }
}

/** Opens the transaction (or savepoint) an approved, previewed statement runs in. Returns whether it is nested. */
export async function openGuard(channel: PreviewChannel): Promise<boolean> {
  await channel.control('SELECT 1') // waits for queries queued before this one: status() is current after it
  const nested = channel.status() === 'T'
  await channel.control(nested ? 'SAVEPOINT warden_guard' : 'BEGIN READ WRITE')
  return nested
}

/** Commits (or releases the savepoint) when `commit`, else rolls back. */
export async function closeGuard(channel: PreviewChannel, nested: boolean, commit: boolean): Promise<void> {
  if (nested) {
    await channel.control(
      commit
        ? 'RELEASE SAVEPOINT warden_guard'
        : 'ROLLBACK TO SAVEPOINT warden_guard; RELEASE SAVEPOINT warden_guard',
    )
  } else {
    await channel.control(commit ? 'COMMIT' : 'ROLLBACK')
  }
}

/** The error for an approved run whose effect differs from the preview the approver saw (after its rollback). */
export function mismatch(expected: readonly number[], actual: readonly number[]): WardenError | undefined {
  if (expected.length === actual.length && expected.every((n, i) => n === actual[i])) return undefined
  return new WardenError(
    'ERR_WARDEN_PREVIEW_MISMATCH',
    `the approved statement affected ${actual.join(', ') || 'no'} row(s) where the approved preview showed ${expected.join(', ')}; it was rolled back (the data changed since the preview): ask for a new approval`,
  )
}

// --- catalog check --------------------------------------------------------------------------------

// $1: written tables (quoted names), $2: bare function names the statement calls.
// The closure of written tables adds inheritance children / partitions and tables that foreign
// keys with ON DELETE/UPDATE actions write to. Each may only be a plain or partitioned table with
// no user trigger, no rule, and only pg_catalog functions in its defaults, generated columns,
// checks (also of the domains of its columns) and row-security policies.
const SAFETY_SQL = `WITH RECURSIVE
named AS (SELECT n, pg_catalog.to_regclass(n) AS oid FROM pg_catalog.unnest($1::text[]) AS n),
edges AS (
  SELECT inhparent AS parent, inhrelid AS child FROM pg_catalog.pg_inherits
  UNION ALL
  SELECT confrelid, conrelid FROM pg_catalog.pg_constraint
  WHERE contype = 'f' AND (confdeltype IN ('c', 'n', 'd') OR confupdtype IN ('c', 'n', 'd'))
),
rel AS (
  SELECT oid FROM named WHERE oid IS NOT NULL
  UNION
  SELECT e.child FROM edges e JOIN rel ON e.parent = rel.oid
),
problems AS (
  SELECT n || ' does not exist' AS problem FROM named WHERE oid IS NULL
  UNION ALL
  SELECT c.oid::regclass::text || ' is a ' || CASE c.relkind WHEN 'v' THEN 'view' WHEN 'f' THEN 'foreign table'
    WHEN 'm' THEN 'materialized view' ELSE 'relation of kind ' || c.relkind::text END
  FROM rel JOIN pg_catalog.pg_class c ON c.oid = rel.oid WHERE c.relkind NOT IN ('r', 'p')
  UNION ALL
  SELECT t.tgrelid::regclass::text || ' has trigger ' || t.tgname
  FROM rel JOIN pg_catalog.pg_trigger t ON t.tgrelid = rel.oid WHERE NOT t.tgisinternal
  UNION ALL
  SELECT r.ev_class::regclass::text || ' has rule ' || r.rulename
  FROM rel JOIN pg_catalog.pg_rewrite r ON r.ev_class = rel.oid WHERE r.rulename <> '_RETURN'
  UNION ALL
  SELECT 'a default, check or policy calls ' || p.oid::regprocedure::text
  FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_proc p ON d.refobjid = p.oid
  WHERE d.refclassid = 'pg_catalog.pg_proc'::regclass
    AND p.pronamespace <> 'pg_catalog'::regnamespace
    AND (
      (d.classid = 'pg_catalog.pg_attrdef'::regclass AND d.objid IN (
        SELECT a.oid FROM pg_catalog.pg_attrdef a JOIN rel ON a.adrelid = rel.oid))
      OR (d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid IN (
        SELECT k.oid FROM pg_catalog.pg_constraint k
        WHERE k.conrelid IN (SELECT oid FROM rel)
           OR k.contypid IN (SELECT a.atttypid FROM pg_catalog.pg_attribute a JOIN rel ON a.attrelid = rel.oid)))
      OR (d.classid = 'pg_catalog.pg_policy'::regclass AND d.objid IN (
        SELECT pol.oid FROM pg_catalog.pg_policy pol JOIN rel ON pol.polrelid = rel.oid))
    )
  UNION ALL
  SELECT 'it calls ' || p.oid::regprocedure::text || ', not a built-in'
  FROM pg_catalog.pg_proc p
  WHERE p.proname = ANY($2::text[]) AND p.pronamespace <> 'pg_catalog'::regnamespace
)
SELECT DISTINCT problem FROM problems ORDER BY problem LIMIT 3`

// --- parse helpers --------------------------------------------------------------------------------

type Body = Record<string, unknown>
interface ParsedStmt {
  readonly stmt: Body
  readonly stmt_location?: number
  readonly stmt_len?: number
}
interface RangeVar {
  readonly relname: string
  readonly schemaname?: string
}

function tagged(node: Body): [string, Body] {
  const kind = Object.keys(node)[0] as string
  return [kind, node[kind] as Body]
}

function displayName(rv: RangeVar): string {
  return rv.schemaname ? `${rv.schemaname}.${rv.relname}` : rv.relname
}

function quotedName(rv: RangeVar): string {
  return rv.schemaname
    ? `${escapeIdentifier(rv.schemaname)}.${escapeIdentifier(rv.relname)}`
    : escapeIdentifier(rv.relname)
}

/** Targets of every INSERT/UPDATE/DELETE/MERGE in the tree (writing CTEs included). */
function collectTargets(node: unknown, out: Set<string>): void {
  if (Array.isArray(node)) {
    for (const item of node) collectTargets(item, out)
    return
  }
  if (node === null || typeof node !== 'object') return
  for (const [key, value] of Object.entries(node as Body)) {
    if (
      (key === 'InsertStmt' || key === 'UpdateStmt' || key === 'DeleteStmt' || key === 'MergeStmt') &&
      value !== null &&
      typeof value === 'object'
    ) {
      const relation = (value as Body).relation as RangeVar | undefined
      if (relation !== undefined) out.add(quotedName(relation))
    }
    collectTargets(value, out)
  }
}

/**
 * The text with ` RETURNING *` after each top-level INSERT/UPDATE/DELETE that has no RETURNING,
 * inserted after the statement's last token (never inside a trailing comment). Returns undefined
 * when nothing was added or when the result does not parse to exactly the same statements plus
 * that RETURNING (then the sample comes only from RETURNING the statement already has).
 */
function withReturning(text: string, parsed: readonly ParsedStmt[]): string | undefined {
  const bytes = Buffer.from(text, 'utf8')
  let tokens: { start: number; end: number; tokenName: string; text: string }[]
  try {
    tokens = scanSync(text).tokens as unknown as typeof tokens
  } catch {
    return undefined
  }
  const inserts: number[] = []
  const augmented: boolean[] = []
  for (const entry of parsed) {
    const [kind, body] = tagged(entry.stmt)
    const add =
      (kind === 'InsertStmt' || kind === 'UpdateStmt' || kind === 'DeleteStmt') &&
      body.returningClause === undefined &&
      body.returningList === undefined
    augmented.push(add)
    if (!add) continue
    const start = entry.stmt_location ?? 0
    const end = entry.stmt_len ? start + entry.stmt_len : bytes.length
    let last = -1
    for (const token of tokens) {
      if (token.start < start || token.end > end) continue
      if (token.tokenName === 'SQL_COMMENT' || token.tokenName === 'C_COMMENT' || token.text === ';') continue
      last = Math.max(last, token.end)
    }
    if (last < 0) return undefined
    inserts.push(last)
  }
  if (inserts.length === 0) return undefined
  const parts: Buffer[] = []
  let at = 0
  for (const position of inserts) {
    parts.push(bytes.subarray(at, position), Buffer.from(' RETURNING *'))
    at = position
  }
  parts.push(bytes.subarray(at))
  const result = Buffer.concat(parts).toString('utf8')
  // Verify: the same statements, each augmented one with exactly `RETURNING *` added.
  let again: ParsedStmt[]
  try {
    again = (parseSync(result) as unknown as { stmts: ParsedStmt[] }).stmts
  } catch {
    return undefined
  }
  if (again.length !== parsed.length) return undefined
  for (let i = 0; i < parsed.length; i++) {
    const [kindA, before] = tagged((parsed[i] as ParsedStmt).stmt)
    const [kindB, after] = tagged((again[i] as ParsedStmt).stmt)
    if (kindA !== kindB) return undefined
    const { returningClause, ...rest } = after
    if (augmented[i]) {
      if (JSON.stringify(stripLocations(returningClause)) !== STAR_RETURNING) return undefined
    } else if (
      JSON.stringify(stripLocations(returningClause)) !==
      JSON.stringify(stripLocations(before.returningClause))
    ) {
      return undefined
    }
    const { returningClause: _ignored, ...beforeRest } = before
    if (JSON.stringify(stripLocations(rest)) !== JSON.stringify(stripLocations(beforeRest))) return undefined
  }
  return result
}

const STAR_RETURNING = JSON.stringify({
  exprs: [{ ResTarget: { val: { ColumnRef: { fields: [{ A_Star: {} }] } } } }],
})

function stripLocations(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripLocations)
  if (node === null || typeof node !== 'object') return node
  const out: Body = {}
  for (const [key, value] of Object.entries(node as Body)) {
    if (key === 'location') continue
    out[key] = stripLocations(value)
  }
  return out
}

// --- sample and errors ----------------------------------------------------------------------------

/** A JSON-safe, bounded sample row: text values (already masked on the wire), clipped. */
function sampleRow(
  row: {
    readonly statement: number
    readonly columns: readonly string[]
    readonly values: readonly unknown[]
  },
  multi: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  if (multi) out['#'] = row.statement + 1
  const n = Math.min(row.columns.length, SAMPLE_COLUMNS)
  for (let i = 0; i < n; i++) {
    let key = row.columns[i] as string
    for (let k = 2; key in out; k++) key = `${row.columns[i]} (${k})` // RETURNING * of a join repeats names
    const value = row.values[i]
    out[key] =
      value === null || value === undefined
        ? null
        : typeof value === 'string'
          ? clip(value)
          : clip(String(value))
  }
  return Object.freeze(out)
}

function clip(value: string): string {
  return value.length > SAMPLE_CHARS ? `${value.slice(0, SAMPLE_CHARS)}…` : value
}

/** An error the server reported (a SQLSTATE), as opposed to a broken connection (ECONNRESET...). */
function isServerError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !(err instanceof WardenError)
}

/** Why the dry run did not produce numbers, for the approver (values of masked columns scrubbed). */
function failure(err: unknown, masker: Masker | null): string {
  const error = err instanceof Error ? scrubError(err, masker) : new Error(String(err))
  const code = (error as { code?: unknown }).code
  if (code === '57014') return `the dry run took longer than ${DRY_RUN_TIMEOUT_MS / 1000} s`
  if (code === '55P03') return `the dry run waited longer than ${DRY_RUN_TIMEOUT_MS / 1000} s for a lock`
  if (code === '25P02') return 'the transaction on this connection has failed'
  const message = masker ? masker.text(error.message) : error.message
  return isServerError(error)
    ? `the statement fails in a dry run: ${clip(message)}`
    : `the dry run could not run: ${clip(message)}`
}
