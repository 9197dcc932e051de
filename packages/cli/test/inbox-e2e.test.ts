// End to end in headless Chromium: a query held for approval in this process is approved by a
// reviewer in the inbox page (served by `warden approvals serve` in another process, sharing
// only Redis), and completes; another open page sees the request disappear without reload.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type ApprovalStore,
  createWarden,
  memorySink,
  redisApprovals,
  type Session,
  type Warden,
} from '@warden/core'
import { stubBroker } from '@warden/core/testing'
import { Pool } from '@warden/drivers/pg'
import { compilePolicy } from '@warden/policy'
import pg from 'pg'
import { type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sqlCommand } from './fixtures.js'
import { APPROVAL_POLICY, pendingRequest, REDIS_URL, serveInbox, uniquePrefix, WAITING } from './helpers.js'

const SECRET = 'e2e-inbox-secret-0123456789'
const TABLE = `cli_inbox_e2e_${process.pid}`
const prefix = uniquePrefix('inbox-e2e')
const audit = memorySink()
const profile = mkdtempSync(join(tmpdir(), 'warden-cli-chromium-'))
let db: pg.Client
let store: ApprovalStore
let warden: Warden
let agent: Session
let inbox: Awaited<ReturnType<typeof serveInbox>>
let browser: BrowserContext

beforeAll(async () => {
  db = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: 'test' })
  await db.connect()
  await db.query(`DROP TABLE IF EXISTS ${TABLE}`)
  await db.query(`CREATE TABLE ${TABLE} (id int PRIMARY KEY, status text NOT NULL)`)
  await db.query(`INSERT INTO ${TABLE} VALUES (1, 'new'), (2, 'new')`)
  store = redisApprovals({ redis: REDIS_URL, prefix, ...WAITING })
  // The broker only matters for the guarded Pool (trust auth: any password logs in).
  warden = createWarden({
    policy: compilePolicy(APPROVAL_POLICY),
    audit,
    approvals: store,
    broker: stubBroker({ username: 'postgres' }),
  })
  agent = await warden.session({ principal: { id: 'agent-7', type: 'agent', groups: ['bots'] } })
  // The secret travels in the environment, not the process list.
  inbox = await serveInbox(['--redis', REDIS_URL, '--prefix', prefix, '--port', '0'], {
    WARDEN_INBOX_SECRET: SECRET,
  })
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
})

afterAll(async () => {
  await browser?.close()
  const code = await inbox?.stop()
  expect(code).toBe(0) // stops cleanly on SIGTERM
  await warden?.close()
  await store?.close()
  await db?.query(`DROP TABLE IF EXISTS ${TABLE}`)
  await db?.end()
  rmSync(profile, { recursive: true, force: true })
})

async function signIn(name: string): Promise<Page> {
  const page = await browser.newPage()
  await page.goto(inbox.url)
  await page.locator('#reviewer').fill(name)
  await page.locator('#token').fill(SECRET)
  await page.locator('#login button[type=submit]').click()
  await page.locator('#status.live').waitFor()
  expect(await page.locator('#me').textContent()).toBe(`signed in as ${name}`)
  expect(await page.locator('#login').isHidden()).toBe(true)
  return page
}

/** An UPDATE that the policy holds for a human; it runs against PostgreSQL once approved. */
async function heldUpdate(id: number, status: string) {
  const text = `UPDATE ${TABLE} SET status = '${status}' WHERE id = ${id}`
  const command = {
    ...(await sqlCommand(text)),
    preview: async () => ({ summary: `UPDATE ${TABLE}: 1 row`, rowsAffected: [1], sample: [{ id, status }] }),
  }
  const run = agent.execute(command, async (context) => {
    const result = await db.query(text)
    context.rows(result.rowCount ?? 0)
    return result.rowCount
  })
  run.catch(() => {})
  const request = await pendingRequest(store, text)
  return { run, request, text }
}

describe('approvals inbox in Chromium', () => {
  it('refuses a wrong secret on the sign-in form', async () => {
    const page = await browser.newPage()
    await page.goto(inbox.url)
    await page.locator('#reviewer').fill('alice')
    await page.locator('#token').fill('not-the-secret-at-all')
    await page.locator('#login button[type=submit]').click()
    await page.locator('#login-error', { hasText: 'wrong shared secret' }).waitFor()
    expect(await page.locator('#inbox').isHidden()).toBe(true)
    expect(await page.locator('#login').isVisible()).toBe(true)
    await page.close()
  })

  it('a held query is approved in the browser and completes; another page sees it disappear', async () => {
    const alice = await signIn('alice')
    const requester = await signIn('agent-7')
    const { run, request, text } = await heldUpdate(1, 'shipped')

    const card = alice.locator(`li.card[data-request-id="${request.id}"]`)
    await card.waitFor()
    expect(await card.locator('[data-role=command]').textContent()).toBe(text)
    expect(await card.locator('[data-role=principal]').textContent()).toBe('agent-7 (agent) · groups bots')
    expect(await card.locator('[data-role=rule]').textContent()).toBe(
      'agent-writes: agents need a human for writes',
    )
    expect(await card.locator('.resource').textContent()).toBe('postgres:orders-prod')
    expect(await card.locator('.preview').textContent()).toContain(`UPDATE ${TABLE}: 1 row`)
    expect(await card.locator('.preview td').allTextContents()).toEqual(['1', 'shipped'])
    expect(JSON.parse((await card.locator('[data-role=facts]').textContent()) ?? '')).toMatchObject({
      types: ['UPDATE'],
      writes: [TABLE],
    })
    // Relative, with the absolute time on hover.
    expect(await card.locator('.left').textContent()).toMatch(/^expires in (2 min|1 min|\d+ s)$/)
    expect(await card.locator('.left').getAttribute('title')).toContain(
      new Date(request.expiresAt).toISOString(),
    )

    // The requester sees their own request but cannot approve it.
    const ownCard = requester.locator(`li.card[data-request-id="${request.id}"]`)
    await ownCard.waitFor()
    expect(await ownCard.locator('[data-action=approve]').isDisabled()).toBe(true)
    expect(await ownCard.locator('.note').textContent()).toContain('your own request')

    // Still held: nothing ran yet.
    expect((await db.query(`SELECT status FROM ${TABLE} WHERE id = 1`)).rows[0].status).toBe('new')

    await card.locator('[data-role=reason]').fill('ticket OPS-17')
    await card.locator('[data-action=approve]').click()

    await expect(run).resolves.toBe(1)
    expect((await db.query(`SELECT status FROM ${TABLE} WHERE id = 1`)).rows[0].status).toBe('shipped')
    await ownCard.waitFor({ state: 'detached' })
    await card.waitFor({ state: 'detached' })
    expect(await requester.locator('#empty').isVisible()).toBe(true)
    expect(audit.find({ command: text })).toMatchObject({
      decision: { effect: 'approve', rule: 'agent-writes' },
      approval: { id: request.id, status: 'approved', by: 'alice' },
      outcome: { status: 'ok', rows: 1 },
    })
    expect(inbox.output()).toContain(`approved ${request.id}`)
    expect(inbox.output()).not.toContain(SECRET)
    await alice.close()
    await requester.close()
  })

  it('a write held by the guarded pg Pool shows its real dry-run preview; approved in the browser, it runs under the row-count guard', async () => {
    await db.query(`INSERT INTO ${TABLE} VALUES (10, 'queued'), (11, 'queued'), (12, 'held')`)
    const pool = new Pool(agent, {
      host: '127.0.0.1',
      port: 5432,
      database: 'test',
      resource: 'orders-prod',
      max: 2,
    })
    const carol = await signIn('carol')
    try {
      const text = `UPDATE ${TABLE} SET status = 'packed' WHERE status = 'queued'`
      const run = pool.query(text)
      run.catch(() => {})
      const request = await pendingRequest(store, text)
      // The preview came from a rolled-back dry run of this very statement on PostgreSQL.
      expect(request.preview).toMatchObject({ rowsAffected: [2] })
      expect(
        (await db.query(`SELECT count(*)::int AS n FROM ${TABLE} WHERE status = 'queued'`)).rows,
      ).toEqual([{ n: 2 }])
      const card = carol.locator(`li.card[data-request-id="${request.id}"]`)
      await card.waitFor()
      expect(await card.locator('.preview').textContent()).toContain('rows affected per statement: 2')
      expect(await card.locator('.preview td').allTextContents()).toEqual(
        expect.arrayContaining(['10', 'packed', '11']),
      )
      await card.locator('[data-action=approve]').click()
      const result = await run
      expect(result.rowCount).toBe(2)
      expect((await db.query(`SELECT id FROM ${TABLE} WHERE status = 'packed' ORDER BY id`)).rows).toEqual([
        { id: 10 },
        { id: 11 },
      ])
      expect(audit.find({ command: text })).toMatchObject({
        approval: { id: request.id, status: 'approved', by: 'carol' },
        outcome: { status: 'ok', rows: 2 },
      })
      await card.waitFor({ state: 'detached' })
    } finally {
      await carol.close()
      await pool.end()
    }
  })

  it('a rejection with a reason stops the query', async () => {
    const bob = await signIn('bob')
    const { run, request } = await heldUpdate(2, 'deleted')
    const card = bob.locator(`li.card[data-request-id="${request.id}"]`)
    await card.waitFor()
    // Rejecting needs a reason.
    await card.locator('[data-action=reject]').click()
    await card.locator('.error', { hasText: 'Give a reason to reject.' }).waitFor()
    await card.locator('[data-role=reason]').fill('not during the freeze')
    await card.locator('[data-action=reject]').click()
    await expect(run).rejects.toMatchObject({ code: 'ERR_WARDEN_APPROVAL_REJECTED' })
    await card.waitFor({ state: 'detached' })
    expect((await db.query(`SELECT status FROM ${TABLE} WHERE id = 2`)).rows[0].status).toBe('new')
    await bob.close()
  })
})
