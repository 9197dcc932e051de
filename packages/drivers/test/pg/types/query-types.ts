// Compiled by ../types.test.ts with tsc: the guarded Pool and Client give pg's own result types.
// Every @ts-expect-error must be an error, and every assertion must hold, or the compile fails.
import type { Client, Pool } from '@warden/drivers/pg'
import pg, { type Query, type QueryArrayResult, type QueryResult } from 'pg'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
const assertType = <T extends true>(): T | undefined => undefined

declare const pool: Pool
declare const client: Client

const typed = pool.query<{ id: number }>('SELECT 1 AS id')
assertType<Equal<typeof typed, Promise<QueryResult<{ id: number }>>>>()
const withValues = pool.query<{ id: number }, [number]>('SELECT $1::int AS id', [1])
assertType<Equal<typeof withValues, Promise<QueryResult<{ id: number }>>>>()
const arrays = pool.query<[number]>({ text: 'SELECT 1', rowMode: 'array' })
assertType<Equal<typeof arrays, Promise<QueryArrayResult<[number]>>>>()
const untyped = client.query('SELECT 1')
assertType<Equal<typeof untyped, Promise<QueryResult<any>>>>()
const fromClient = client.query<{ email: string }>({ text: 'SELECT email FROM customers', name: 'emails' })
assertType<Equal<typeof fromClient, Promise<QueryResult<{ email: string }>>>>()
const submitted = client.query(new pg.Query<{ id: number }>('SELECT 1 AS id'))
assertType<Equal<typeof submitted, Query<{ id: number }>>>()
const callback = pool.query<{ id: number }>('SELECT 1 AS id', (err, result) => {
  assertType<Equal<typeof err, Error>>()
  assertType<Equal<typeof result, QueryResult<{ id: number }>>>()
})
assertType<Equal<typeof callback, void>>()

export async function wrongUses(): Promise<void> {
  const { rows } = await pool.query<{ id: number }>('SELECT 1 AS id')
  // @ts-expect-error: id is a number, not a string
  const id: string = rows[0].id
  // @ts-expect-error: a row type must be an object (QueryResultRow)
  await pool.query<number>('SELECT 1')
  // @ts-expect-error: pool.query takes no Submittable (use connect() and client.query())
  pool.query(new pg.Query('SELECT 1'))
  // @ts-expect-error: values are a list, not a number
  await client.query('SELECT $1', 42)
  void id
}
