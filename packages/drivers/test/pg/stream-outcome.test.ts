// pg's Submittables (pg-query-stream, pg-cursor, COPY TO) end their commands when they end (issue
// 17 part 3), against the real PostgreSQL: the outcome record carries the rows, the mask report
// and the full duration; the application does not see the end before that record is stored; if it
// cannot be stored, the stream errors with ERR_WARDEN_RAN_UNRECORDED; a late server error is recorded.
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createWarden, type Warden } from '@warden/core'
import { memorySink, stubBroker } from '@warden/core/testing'
import { Client } from '@warden/drivers/pg'
import { compilePolicy } from '@warden/policy'
import { to as copyTo } from 'pg-copy-streams'
import Cursor from 'pg-cursor'
import QueryStream from 'pg-query-stream'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { type OutcomeProbe, outcomeProbe, turns } from '../internal/outcome-probe.js'
import { admin, createDatabase, dropDatabase, PG, POLICY, SCHEMA } from './helpers.js'

let database: string
let warden: Warden
let audit: ReturnType<typeof memorySink>
let probe: OutcomeProbe
let client: Client

beforeAll(async () => {
  database = await createDatabase('warden_pg_streams')
  await admin((c) => c.query(SCHEMA), database)
})
afterAll(() => dropDatabase(database))

beforeEach(async () => {
  audit = memorySink()
  probe = outcomeProbe()
  warden = createWarden({
    policy: compilePolicy(POLICY),
    broker: stubBroker({ username: 'postgres', ttlMs: 60_000 }),
    audit: [audit, probe],
    signals: false,
  })
  const session = await warden.session({ principal: { id: 'svc', type: 'service' } })
  client = new Client(session, { resource: 'orders', ...PG, database })
  await client.connect()
})
afterEach(async () => {
  await client.end().catch(() => {})
  await warden.close().catch(() => {})
})

describe('pg streams end their commands', () => {
  test('a QueryStream: rows and the mask report recorded; the end waits for the record', async () => {
    const stream = client.query(new QueryStream('SELECT id, email FROM customers ORDER BY id'))
    const rows: { id: number; email: string | null }[] = []
    stream.on('data', (row) => rows.push(row))
    let ended = false
    const finished = new Promise<void>((resolve, reject) => {
      stream.once('end', () => {
        ended = true
        resolve()
      })
      stream.once('error', reject)
    })
    const release = audit.hold()
    await probe.next()
    // Recorded (written), not stored: the application has not seen the end.
    await turns()
    expect(ended).toBe(false)
    release()
    await finished
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3])
    expect(JSON.stringify(rows)).not.toContain('ada@example.com')
    const record = audit.expectRecord({ command: 'SELECT id, email FROM customers ORDER BY id' })
    expect(record.outcome).toMatchObject({ status: 'ok', rows: 3 })
    expect(record.masked?.[0]).toMatchObject({ column: 'email', count: 2 })
  })

  test('a QueryStream whose record cannot be stored errors with ERR_WARDEN_RAN_UNRECORDED', async () => {
    const stream = client.query(new QueryStream('SELECT id FROM customers'))
    const consumed = (async () => {
      for await (const _ of stream) {
      }
    })()
    const release = audit.hold()
    await probe.next()
    release(new Error('disk full'))
    await expect(consumed).rejects.toMatchObject({ code: 'ERR_WARDEN_RAN_UNRECORDED' })
  })

  test('a cursor: its last batch (delivered at the end) waits for the record', async () => {
    const cursor = client.query(new Cursor('SELECT g FROM generate_series(1, 3) g'))
    const release = audit.hold()
    const written = probe.next()
    let rows: unknown[] | undefined
    // pg-cursor hands over the rows of the batch that completes the query at its end.
    const reading = cursor.read(10).then((r) => {
      rows = r
    })
    await written
    await turns()
    expect(rows).toBeUndefined()
    release()
    await reading
    expect(rows).toHaveLength(3)
    expect(await cursor.read(10)).toEqual([])
    await cursor.close()
    expect(audit.records.at(-1)?.outcome).toMatchObject({ status: 'ok', rows: 3 })
  })

  test('COPY TO: the end of the copy waits for the record, which counts its rows', async () => {
    const chunks: Buffer[] = []
    let ended = false
    const copy = client.query(copyTo('COPY (SELECT id FROM orders ORDER BY id) TO STDOUT'))
    const release = audit.hold()
    const done = pipeline(
      copy,
      new Writable({
        write(chunk, _e, cb) {
          chunks.push(chunk)
          cb()
        },
        final(cb) {
          ended = true
          cb()
        },
      }),
    )
    await probe.next()
    await turns()
    expect(ended).toBe(false)
    release()
    await done
    expect(Buffer.concat(chunks).toString()).toBe('10\n11\n')
    expect(audit.records.at(-1)?.outcome?.status).toBe('ok')
  })

  test('a stream that fails on the server after its first rows records the error', async () => {
    const written = probe.next()
    const stream = client.query(new QueryStream('SELECT 10 / (3 - g) AS v FROM generate_series(1, 5) g'))
    const consumed = (async () => {
      for await (const _ of stream) {
      }
    })()
    await expect(consumed).rejects.toThrow(/division by zero/)
    await written
    const record = audit.expectRecord({ outcome: { status: 'error' } })
    expect(record.outcome!.error).toMatch(/division by zero/)
  })
})
