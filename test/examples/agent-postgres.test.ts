import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { runAgentExample } from '../../examples/agent-postgres/main.js'

const RAW_EMAIL = 'ada.lovelace@analytical.example.net'
const RAW_PHONE = '+1 415 555 0101'

describe('examples/agent-postgres', () => {
  it('masks, refuses an unbounded UPDATE the model recovers from, holds the refund for the SDK approval, blocks exfiltration after PII', async () => {
    const run = await runAgentExample({ print: () => {} })
    expect(run.orderStatus).toBe('refunded')
    expect(run.answer).toContain('Order 101 was refunded')
    // what the model saw: masked contact data, never the raw values; the refusals' messages
    const seen = run.prompts.join('\n')
    expect(seen).not.toContain(RAW_EMAIL)
    expect(seen).not.toContain(RAW_PHONE)
    expect(seen).toContain('***@analytical.example.net')
    expect(seen).toContain('destructive-sql')
    expect(run.outbox).toEqual([{ to: 'support@example.com', body: expect.stringContaining('Order 101') }])
    const commands = run.records.filter((r) => r.type === 'command')
    const find = (command: string) => commands.find((r) => r.command === command)
    expect(find("UPDATE orders SET status = 'refunded'")).toMatchObject({
      action: 'sql.query',
      decision: { effect: 'deny', rule: 'destructive-sql' },
      outcome: { status: 'denied' },
    })
    expect(find('refund_order {"order_id":101,"amount":250}')).toMatchObject({
      decision: { effect: 'approve', rule: 'big-refunds' },
      approval: { status: 'approved', by: 'support-lead (via the app)' },
      outcome: { status: 'ok' },
    })
    expect(
      find('send_email {"to":"ada.lovelace@gmail.example.net","body":"Your order 101 was refunded."}'),
    ).toMatchObject({
      decision: { effect: 'deny', rule: 'no-exfiltration-after-pii' },
    })
    expect(find("SELECT id, name, email, phone FROM customers WHERE name = 'Ada Lovelace'")?.masked).toEqual(
      expect.arrayContaining([expect.objectContaining({ column: 'email', strategy: 'partial', count: 1 })]),
    )
    expect(JSON.stringify(run.records)).not.toContain(RAW_EMAIL)
    expect(run.chainValid).toBe(true)
  })

  it('a refund the human rejects never runs', async () => {
    const run = await runAgentExample({ print: () => {}, approveRefunds: false })
    expect(run.orderStatus).toBe('delivered')
    expect(run.records.some((r) => r.command === "UPDATE orders SET status = 'refunded' WHERE id = $1")).toBe(
      false,
    )
    expect(run.transcript).toContain(
      'approval requested: refund_order({"order_id":101,"amount":250}) → rejected by a human',
    )
  })

  it('runs as documented from the command line', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--conditions=warden-source', '--import', 'tsx', 'examples/agent-postgres/main.ts'],
      {
        cwd: new URL('../..', import.meta.url),
        timeout: 60_000,
      },
    )
    expect(stdout).toContain('warden refused')
    expect(stdout).toMatch(/hash chain: verified \(\d+ records\)/)
  }, 90_000)
})
