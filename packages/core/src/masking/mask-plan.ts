/** A result column as the driver knows it: its output name and, when it comes from a table, that table. */
export interface ColumnRef {
  readonly name: string
  /** `schema.table` or `table`, when the column's origin is a table column. */
  readonly table?: string
  /** The origin column name when it differs from `name` (an alias). */
  readonly origin?: string
  /**
   * For a computed column (no `table`): the column names the statement's output expressions read,
   * `*` for a whole row (`row_to_json(c)`). A column rule matching any of them masks this column
   * whole (the strongest such rule; any column rule for `*`), so `upper(ssn)` is masked like `ssn`.
   * The same array for every row shape of one statement (it is part of the plan cache key).
   */
  readonly derivedFrom?: readonly string[]
}

/** Compiled once per (mask rules, result shape); applies to rows of that shape. */
export interface MaskPlan {
  /** False when no rule can touch this shape: the driver may skip rows entirely. */
  readonly active: boolean
  /** Masks an object row (keys are column names) in place and returns it. */
  applyObject(row: Record<string, unknown>): Record<string, unknown>
  /** Masks an array row (positions follow the column list) in place and returns it. */
  applyArray(row: unknown[]): unknown[]
}

/** Per-command masking handle that the pipeline gives a driver when the decision carries masks. */
export interface Masker {
  /** Plan for one result shape (cached across commands with the same rules and shape). */
  plan(columns: readonly ColumnRef[]): MaskPlan
  /** Masks free text (shell output lines, log lines, error messages) with detectors and known values. */
  text(value: string): string
  /** Masks a JSON value by key path (`a.b.c`, globs) and detectors; returns a masked copy. */
  json(value: unknown): unknown
}
