// Per-connection hooks on pg's wire Connection (see pg-internals.ts): the tripwire that lets only
// approved SQL reach the socket, row masking on RowDescription/DataRow before any Query, Cursor or
// QueryStream sees a row, row counts from CommandComplete, and the lexer-setting watch.

import type { ColumnRef, Masker, MaskPlan } from '@warden/core'
import { WardenError } from '@warden/policy'
import type { PgClientInternals, PgWireConnection } from '../pg-internals.js'

const TEXT_OID = 25

/** Encodings whose multibyte characters can hide a quote or backslash from libpg-query's reading. */
const UNSAFE_ENCODINGS: ReadonlySet<string> = new Set([
  'SJIS',
  'SHIFT_JIS_2004',
  'BIG5',
  'GBK',
  'GB18030',
  'UHC',
  'JOHAB',
])

interface RowField {
  name: string
  tableID: number
  columnID: number
  dataTypeID: number
  format: string
}

export interface TableInfo {
  readonly table: string
  readonly columns: ReadonlyMap<number, string>
  /** For a view or materialized view: every column its definition reads (`*`: anything). */
  readonly reads?: readonly string[]
}

const NO_SOURCES: readonly string[] = Object.freeze([])
const WHOLE_ROW: readonly string[] = Object.freeze(['*'])

const wholeRows = new WeakMap<TableInfo, readonly string[]>()
/** The columns a table's whole row carries (the same array every time, for the plan cache). */
function wholeRow(info: TableInfo | undefined): readonly string[] {
  if (info === undefined) return WHOLE_ROW
  let list = wholeRows.get(info)
  if (list === undefined) {
    list = Object.freeze([...info.columns.values()])
    wholeRows.set(info, list)
  }
  return list
}

/** What one guarded query carries while its response arrives. */
export class QueryState {
  rows = 0
  /** Rows per statement, from each CommandComplete (the approval guard compares these). */
  readonly counts: number[] = []
  #plan: MaskPlan | null = null
  #indexes: readonly number[] = []
  readonly masker: Masker | null
  /** What the statement's computed columns may carry (`derivedColumns` of its facts). */
  readonly derivedFrom: readonly string[]

  constructor(masker: Masker | null, derivedFrom: readonly string[] = NO_SOURCES) {
    this.masker = masker
    this.derivedFrom = derivedFrom
  }

  describe(fields: RowField[], guard: WireGuard): void {
    const masker = this.masker as Masker
    const plan = masker.plan(guard.columns(fields, this.derivedFrom))
    this.#plan = plan.active ? plan : null
    this.#indexes = plan.active ? maskedIndexes(plan, fields.length) : []
    // Masked values are strings now: read them as text, whatever the column's type.
    for (const i of this.#indexes) {
      const field = fields[i]
      if (field !== undefined) {
        field.dataTypeID = TEXT_OID
        field.format = 'text'
      }
    }
  }

  mask(values: unknown[]): void {
    if (this.#plan !== null) this.#plan.applyArray(values)
  }
}

/** Positions a plan may change. Uses the engine's slots when it exposes them; else every column. */
function maskedIndexes(plan: MaskPlan, count: number): number[] {
  const slots = (plan as { slots?: unknown }).slots
  if (Array.isArray(slots)) {
    const out: number[] = []
    for (const slot of slots) {
      const index = (slot as { index?: unknown }).index
      if (typeof index === 'number') out.push(index)
    }
    return out
  }
  return Array.from({ length: count }, (_, i) => i)
}

// The state of a tracked query rides on the query object itself: a WeakMap entry per query cost
// about a microsecond per command (ephemeron bookkeeping in the GC).
const STATE = Symbol('warden.pg.queryState')
type Tracked = { [STATE]?: QueryState }

export class WireGuard {
  readonly #approved = new Map<string, number>()
  readonly #client: PgClientInternals
  #masking = 0
  /** Why this connection's lexing cannot be trusted any more, or ''. */
  unsafe = ''
  /** default_transaction_read_only as the server last reported it (ParameterStatus, PostgreSQL 14+). */
  readOnlyDefault: boolean | undefined
  readonly catalog = new Map<number, TableInfo>()
  #catalogLoaded = false
  catalogStale = false
  /** The last result shape and its column refs: the same array again lets the masking engine find its plan by identity. */
  #lastFields: { name: string; tableID: number; columnID: number }[] | undefined
  #lastDerived: readonly string[] = NO_SOURCES
  #lastColumns: readonly ColumnRef[] = []

  constructor(client: PgClientInternals) {
    this.#client = client
    const con = client.connection
    this.#tripwire(con)
    this.#hook(con)
  }

  /** SQL text about to be submitted for an approved command. */
  approve(text: string): void {
    this.#approved.set(text, (this.#approved.get(text) ?? 0) + 1)
  }

  /** The command that approved `text` has finished. */
  done(text: string): void {
    const n = this.#approved.get(text) ?? 0
    if (n <= 1) this.#approved.delete(text)
    else this.#approved.set(text, n - 1)
  }

  track(query: object, state: QueryState): void {
    ;(query as Tracked)[STATE] = state
    if (state.masker !== null) this.#masking++
  }

  untrack(state: QueryState): void {
    if (state.masker !== null) this.#masking--
  }

  get catalogLoaded(): boolean {
    return this.#catalogLoaded
  }
  /** Set by the client when it (re)reads the catalog: column refs made before are stale. */
  set catalogLoaded(value: boolean) {
    this.#catalogLoaded = value
    this.#lastFields = undefined
  }

  /**
   * Column refs of a RowDescription; the same array as last time when the shape is the same.
   * Computed columns (no table) get `derivedFrom`, so the statement is part of the shape.
   */
  columns(fields: readonly RowField[], derivedFrom: readonly string[] = NO_SOURCES): readonly ColumnRef[] {
    const last = this.#lastFields
    if (last !== undefined && last.length === fields.length && derivedFrom === this.#lastDerived) {
      let same = true
      for (let i = 0; i < fields.length && same; i++) {
        const a = last[i]
        const b = fields[i]
        same = a.name === b.name && a.tableID === b.tableID && a.columnID === b.columnID
      }
      if (same) return this.#lastColumns
    }
    const columns = fields.map((f) => this.column(f, derivedFrom))
    // A table missing from the catalog is masked by name this time only: never reuse that.
    this.#lastFields = this.catalogStale
      ? undefined
      : fields.map((f) => ({ name: f.name, tableID: f.tableID, columnID: f.columnID }))
    this.#lastDerived = derivedFrom
    this.#lastColumns = columns
    return columns
  }

  column(field: RowField, derivedFrom: readonly string[] = NO_SOURCES): ColumnRef {
    if (field.tableID === 0)
      return derivedFrom.length === 0 ? { name: field.name } : { name: field.name, derivedFrom }
    const info = this.catalog.get(field.tableID)
    // Column 0 of a table is its whole row (`SELECT c FROM customers c`): every column in one value.
    if (field.columnID === 0) return { name: field.name, derivedFrom: info?.reads ?? wholeRow(info) }
    if (info === undefined) {
      // A table created after the catalog was read: mask by name now, reread before the next masked query.
      this.catalogStale = true
      return { name: field.name }
    }
    // A view's column has no origin past the view: computed from whatever the view reads.
    if (info.reads !== undefined) return { name: field.name, derivedFrom: info.reads }
    const origin = info.columns.get(field.columnID)
    return origin === undefined || origin === field.name
      ? { name: field.name, table: info.table }
      : { name: field.name, table: info.table, origin }
  }

  #tripwire(con: PgWireConnection): void {
    const query = con.query
    const parse = con.parse
    const check = (text: unknown) => {
      if (typeof text !== 'string' || !this.#approved.has(text)) {
        throw new WardenError(
          'ERR_WARDEN_DENIED',
          'SQL reached the pg connection without passing Warden (client.connection is internal); send queries through client.query()',
        )
      }
    }
    con.query = function (this: PgWireConnection, text: string) {
      check(text)
      return query.call(this, text)
    }
    con.parse = function (this: PgWireConnection, message: { text: string }, ...rest: unknown[]) {
      check(message?.text)
      return (parse as (...a: unknown[]) => void).call(this, message, ...rest)
    }
  }

  #hook(con: PgWireConnection): void {
    const emit = con.emit
    const client = this.#client
    const guard = this
    con.emit = function (
      this: PgWireConnection,
      event: string | symbol,
      message?: unknown,
      ...rest: unknown[]
    ): boolean {
      switch (event) {
        case 'rowDescription':
        case 'dataRow':
          if (guard.#masking > 0) {
            const active = client._getActiveQuery()
            const state = active ? (active as Tracked)[STATE] : undefined
            if (state?.masker) {
              const fields = (message as { fields: unknown[] }).fields
              if (event === 'rowDescription') state.describe(fields as RowField[], guard)
              else state.mask(fields)
            }
          }
          break
        case 'commandComplete': {
          const active = client._getActiveQuery()
          const state = active ? (active as Tracked)[STATE] : undefined
          if (state) {
            const n = rowsOf((message as { text?: string }).text)
            state.rows += n
            state.counts.push(n)
          }
          break
        }
        case 'parameterStatus':
          guard.#parameter(message as { parameterName?: string; parameterValue?: string })
          break
      }
      return emit.call(this, event, message, ...rest)
    } as PgWireConnection['emit']
  }

  #parameter(message: { parameterName?: string; parameterValue?: string }): void {
    const name = message.parameterName
    const value = String(message.parameterValue ?? '')
    if (name === 'default_transaction_read_only') this.readOnlyDefault = value === 'on'
    if (name === 'standard_conforming_strings' && value !== 'on') {
      this.unsafe = `standard_conforming_strings is "${value}" on this connection, so SQL is not lexed the way Warden parsed it; reconnect with it on`
    } else if (name === 'client_encoding' && UNSAFE_ENCODINGS.has(value.toUpperCase())) {
      this.unsafe = `client_encoding is ${value} on this connection, which can hide quotes inside multibyte characters; use UTF8`
    }
  }
}

/** `SELECT 5`, `INSERT 0 3`, `COPY 10` → the row count (last number), else 0. */
function rowsOf(text: string | undefined): number {
  if (text === undefined) return 0
  const space = text.lastIndexOf(' ')
  if (space < 0) return 0
  const n = Number(text.slice(space + 1))
  return Number.isFinite(n) ? n : 0
}
