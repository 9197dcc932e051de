// End to end in headless Chromium: a query held for approval in this process is approved by a
// reviewer in the inbox page (served by `warden approvals serve` in another process, sharing
// only Redis), and completes; another open page sees the request disappear without reload.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  type ApprovalRequest,
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
    // A confirmation, and the decision in the history (from the store's event).
    expect(await alice.locator('#notice').textContent()).toBe(
      'Approved: postgres:orders-prod for agent-7 (ticket OPS-17)',
    )
    const entry = alice.locator(`#history li[data-history-id="${request.id}"]`)
    await entry.waitFor()
    expect(await entry.locator('.st').textContent()).toBe('approved')
    expect(await entry.locator('[data-role=by]').textContent()).toBe('alice')
    expect(await entry.locator('[data-role=reason]').textContent()).toBe('ticket OPS-17')
    expect(await entry.locator('.cmd').textContent()).toBe(text)
    expect(await entry.locator('.at').getAttribute('title')).toMatch(/\d{4}-\d\d-\d\dT/)
    await requester.locator(`#history li[data-history-id="${request.id}"]`).waitFor()
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
      // Each sampled row before → after: the pg dry run read the rows as they were, by primary key.
      expect(await card.locator('[data-role=sample-count]').textContent()).toBe(
        'Sample: 2 of 2 rows (before \u2192 after, changed cells marked)',
      )
      expect(await card.locator('.preview td').allTextContents()).toEqual(
        expect.arrayContaining(['10', 'queued \u2192 packed', '11']),
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

/** A request put in the store as any application instance would (shown only: never decided). */
function opened(id: string, command: string, extra: Partial<ApprovalRequest> = {}): ApprovalRequest {
  const now = Date.now()
  return {
    id,
    fingerprint: 'sha256:display-only',
    session: 'sess-e2e',
    principal: { id: 'agent-7', type: 'agent' },
    resource: { kind: 'postgres', name: 'orders-prod' },
    action: 'sql.query',
    command,
    facts: { types: ['UPDATE'] },
    rule: 'agent-writes',
    reason: 'agents need a human for writes',
    approvers: ['dba', 'alice', 'bob', 'carol'],
    requestedAt: new Date(now - 90_000),
    expiresAt: new Date(now + 240_000),
    ...extra,
  }
}

describe('hostile requests in Chromium', () => {
  // Screenshots go to a temp dir removed afterwards, or to WARDEN_INBOX_SHOTS (kept, to look at them).
  const keep = process.env.WARDEN_INBOX_SHOTS
  if (keep) mkdirSync(keep, { recursive: true })
  const shots = keep ?? mkdtempSync(join(tmpdir(), 'warden-inbox-shots-'))
  const tag = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const DROP = `UPDATE orders SET note = 'x' WHERE id = 1\u00A0-- \u202E1 = di EREHW${'\n'.repeat(400)}; DROP TABLE customers`
  const MANY = Array.from({ length: 400 }, (_, i) => `-- line ${i + 1}`).join('\n')
  const HUGE = `UPDATE orders SET note = '${'x'.repeat(1_000_000)}' WHERE id = 2`
  const sample = [1, 2, 3, 4, 5].map((id) => ({
    id: String(id),
    status: 'shipped',
    note: id === 5 ? 'a\u202Eb' : 'n',
  }))
  const before = sample.map((row) => ({ ...row, status: 'pending' }))
  const hostile = opened(`bidi-${tag}`, DROP, {
    resource: { kind: 'postgres', name: 'orders\u202Eprod' },
    principal: { id: 'agent-7', type: 'agent', groups: ['bots\u200B'] },
    reason: 'needs \u2066review\u2069 <img src=x onerror="window.pwned=1">',
    facts: { types: ['UPDATE'], note: 'a\u202Eb' },
    groups: [{ approvers: ['dba', 'alice', 'bob', 'carol'], minApprovals: 2 }],
    preview: { summary: 'UPDATE orders: 40 rows', rowsAffected: [40], sample, before },
  })
  const many = opened(`lines-${tag}`, MANY)
  const huge = opened(`huge-${tag}`, HUGE)

  beforeAll(async () => {
    for (const r of [hostile, many, huge]) await store.open(r)
  })
  afterAll(async () => {
    for (const r of [hostile, many, huge]) await store.withdraw(r.id)
    if (!keep) rmSync(shots, { recursive: true, force: true })
  })

  it('marks bidi and invisible characters, collapses and caps commands, shows before → after with the count', async () => {
    const alice = await signIn('alice')
    const card = alice.locator(`li.card[data-request-id="${hostile.id}"]`)
    await card.waitFor()
    // The override never reaches the page as a character: it is a visible marker, so nothing reads reversed.
    expect(await card.locator('.resource').textContent()).toBe('postgres:orders\u27EAU+202E\u27EBprod')
    expect(await card.locator('.resource .cc').getAttribute('title')).toContain('right-to-left override')
    const command = card.locator('[data-role=command]')
    const shown = (await command.textContent()) ?? ''
    // A no-break space (a parser and the server may split words differently at it) is marked too.
    expect(shown).toContain('WHERE id = 1\u27EAU+00A0\u27EB-- \u27EAU+202E\u27EB1 = di EREHW\n')
    expect(shown).toContain('\u2026 399 empty lines\n; DROP TABLE customers')
    // 400 newlines do not push the DROP down the card.
    expect((await command.boundingBox())!.height).toBeLessThan(200)
    expect(await card.locator('[data-role=hidden-chars]').textContent()).toContain(
      '2 invisible or direction-changing characters',
    )
    expect(await card.locator('[data-role=principal]').textContent()).toBe(
      'agent-7 (agent) \u00B7 groups bots\u27EAU+200B\u27EB',
    )
    expect(await card.locator('[data-role=rule]').textContent()).toBe(
      'agent-writes: needs \u27EAU+2066\u27EBreview\u27EAU+2069\u27EB <img src=x onerror="window.pwned=1">',
    )
    expect(await card.locator('[data-role=facts]').textContent()).toContain('"a\u27EAU+202E\u27EBb"')
    // Values are text, never HTML.
    expect(await card.locator('img').count()).toBe(0)
    expect(await alice.evaluate(() => (window as { pwned?: number }).pwned)).toBeUndefined()
    const raw = await alice.evaluate(() =>
      /[\u202A-\u202E\u2066-\u2069\u200B-\u200F\u061C\uFEFF]/u.test(document.body.textContent ?? ''),
    )
    expect(raw).toBe(false)
    // minApprovals progress.
    expect(await card.locator('[data-role=progress]').textContent()).toBe('0 of 2 approvals')
    // Before → after: 5 of 40 rows, the changed cells marked.
    expect(await card.locator('[data-role=sample-count]').textContent()).toBe(
      'Sample: 5 of 40 rows (before \u2192 after, changed cells marked)',
    )
    expect(await card.locator('td.changed').allTextContents()).toEqual(
      Array(5).fill('pending \u2192 shipped'),
    )
    expect(await card.locator('tbody tr').nth(4).locator('td').allTextContents()).toEqual([
      '5',
      'pending \u2192 shipped',
      'a\u27EAU+202E\u27EBb',
    ])
    // Relative times with the absolute time on hover.
    expect(await card.locator('.left').textContent()).toMatch(/^expires in [34] min$/)
    expect(await card.locator('dd span[data-at]').textContent()).toMatch(/^(1|2) min ago$/)
    expect(await card.locator('dd span[data-at]').getAttribute('title')).toContain(
      hostile.requestedAt.toISOString(),
    )

    // 400 lines: the first 20, then how many more; Show all reveals the exact text.
    const lines = alice.locator(`li.card[data-request-id="${many.id}"]`)
    expect(await lines.locator('[data-role=rest]').textContent()).toBe(
      `\u2026 380 more lines, ${MANY.length - MANY.split('\n').slice(0, 20).join('\n').length - 1} more characters`,
    )
    expect(((await lines.locator('[data-role=command]').textContent()) ?? '').split('\n')).toHaveLength(21)
    await lines.locator('[data-action=show-all]').click()
    await lines.locator('[data-action=show-all]', { hasText: 'Collapse' }).waitFor()
    expect(await lines.locator('[data-role=command]').textContent()).toBe(MANY)
    await lines.locator('[data-action=show-all]').click()
    await lines.locator('[data-role=rest]').waitFor()

    // 1 MB: listed cut; Show all fetches the whole request.
    const big = alice.locator(`li.card[data-request-id="${huge.id}"]`)
    expect(await big.locator('[data-role=rest]').textContent()).toBe(`${HUGE.length - 2048} more characters`)
    await big.locator('[data-action=show-all]').click()
    await big.locator('[data-action=show-all]', { hasText: 'Collapse' }).waitFor()
    expect(await big.locator('[data-role=command]').evaluate((pre) => pre.textContent?.length)).toBe(
      HUGE.length,
    )
    await big.locator('[data-action=show-all]').click()
    await alice.close()
  })

  it('a reviewer the rule does not name sees Approve and Reject disabled, with the reason', async () => {
    const ONLY = 'only dba, alice, bob, carol (2 approvals) may decide this request'
    const dave = await signIn('dave')
    const card = dave.locator(`li.card[data-request-id="${hostile.id}"]`)
    await card.waitFor()
    expect(await card.locator('[data-action=approve]').isDisabled()).toBe(true)
    expect(await card.locator('[data-action=reject]').isDisabled()).toBe(true)
    expect(await card.locator('[data-role=why]').textContent()).toBe(ONLY)
    expect(await card.locator('[data-action=approve]').getAttribute('title')).toBe(ONLY)
    // An approver of the same request may decide it.
    const bob = await signIn('bob')
    const bobs = bob.locator(`li.card[data-request-id="${hostile.id}"]`)
    await bobs.waitFor()
    expect(await bobs.locator('[data-action=approve]').isDisabled()).toBe(false)
    expect(await bobs.locator('[data-role=why]').isHidden()).toBe(true)
    await dave.close()
    await bob.close()
  })

  for (const [name, width, height] of [
    ['desktop', 1280, 800],
    ['phone', 390, 844],
  ] as const) {
    it(`fits a ${name} screen (${width}×${height}) without horizontal overflow`, async () => {
      const page = await signIn('alice')
      await page.setViewportSize({ width, height })
      const card = page.locator(`li.card[data-request-id="${hostile.id}"]`)
      await card.waitFor()
      await page.locator(`li.card[data-request-id="${huge.id}"]`).waitFor()
      const fits = await page.evaluate(() => ({
        scroll: document.documentElement.scrollWidth,
        inner: window.innerWidth,
      }))
      expect(fits.scroll).toBeLessThanOrEqual(fits.inner)
      // The sample table scrolls inside its own box, never the page.
      const box = (await card.locator('.scroll').boundingBox())!
      expect(box.x + box.width).toBeLessThanOrEqual(width)
      await card.scrollIntoViewIfNeeded()
      const file = join(shots, `inbox-${name}.png`)
      await page.screenshot({ path: file, fullPage: false })
      console.log(`screenshot: ${file}`)
      await page.close()
    })
  }
})
