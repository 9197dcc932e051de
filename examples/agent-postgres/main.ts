// An AI support agent (a scripted model: no network, no API key) working on a PostgreSQL database
// through Warden: AI SDK tools guarded by `guardTools`, SQL through the guarded pg pool.
// Shows: masked customer data, a refused statement the model recovers from, a refund held for a
// human through the AI SDK's own approval step, and a data-flow rule (no email to outsiders once
// customer data was read in this run). Run:
//   node --conditions=warden-source --import tsx examples/agent-postgres/main.ts
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { startEmbeddedPostgres } from '@warden/cli'
import {
  type AuditRecord,
  autoDeny,
  createWarden,
  jsonlSink,
  memorySink,
  staticBroker,
  verifyChain,
} from '@warden/core'
import { guardTools } from '@warden/drivers/ai-sdk'
import { Pool } from '@warden/drivers/pg'
import { loadPolicy } from '@warden/policy'
import { generateText, type ModelMessage, stepCountIs, tool } from 'ai'
import { z } from 'zod'
import { SAMPLE_DATA } from '../shared/sample-data.js'
import { type Reply, type Seen, scriptedModel } from './scripted-model.js'

const here = dirname(fileURLToPath(import.meta.url))

export interface AgentRun {
  readonly answer: string
  readonly transcript: readonly string[]
  /** What the model was shown, per turn. */
  readonly prompts: readonly string[]
  readonly outbox: readonly { to: string; body: string }[]
  readonly records: readonly AuditRecord[]
  readonly chainValid: boolean
  readonly orderStatus: string
}

export interface AgentOptions {
  /** What the human says when the AI SDK asks to approve a refund (default: approve). */
  readonly approveRefunds?: boolean
  readonly print?: (line: string) => void
}

/** The model's script: what a capable model would do, reacting to what the tools return. */
function supportScript(): (results: readonly Seen[]) => Reply {
  const refused = (results: readonly Seen[]) =>
    (results[0]?.output as { denied?: boolean } | undefined)?.denied === true
  let step = 0
  return (results) => {
    switch (step++) {
      case 0:
        return {
          call: {
            tool: 'run_sql',
            input: { sql: "SELECT id, name, email, phone FROM customers WHERE name = 'Ada Lovelace'" },
          },
        }
      case 1:
        return {
          call: {
            tool: 'run_sql',
            input: { sql: 'SELECT id, total, status FROM orders WHERE customer_id = 1 ORDER BY id' },
          },
        }
      case 2:
        // a slip a real model makes: the WHERE clause is missing
        return { call: { tool: 'run_sql', input: { sql: "UPDATE orders SET status = 'refunded'" } } }
      case 3:
        // it reads the refusal and uses the narrow tool instead
        if (!refused(results)) return { text: 'unexpected: the unbounded UPDATE ran' }
        return { call: { tool: 'refund_order', input: { order_id: 101, amount: 250 } } }
      case 4:
        return {
          call: {
            tool: 'send_email',
            input: { to: 'ada.lovelace@gmail.example.net', body: 'Your order 101 was refunded.' },
          },
        }
      case 5:
        if (!refused(results)) return { text: 'unexpected: the email went out' }
        return {
          call: {
            tool: 'send_email',
            input: {
              to: 'support@example.com',
              body: 'Order 101 (Ada Lovelace) refunded; please notify the customer.',
            },
          },
        }
      default:
        return {
          text: 'Order 101 was refunded (approved by a human). Support was asked to notify Ada, since I may not email customers directly after reading their data.',
        }
    }
  }
}

export async function runAgentExample(options: AgentOptions = {}): Promise<AgentRun> {
  const print = options.print ?? ((line: string) => console.log(line))
  const transcript: string[] = []
  const say = (line: string) => {
    transcript.push(line)
    print(line)
  }

  const db = await startEmbeddedPostgres()
  await db.exec(SAMPLE_DATA)
  const auditFile = join(mkdtempSync(join(tmpdir(), 'warden-agent-')), 'audit.jsonl')
  const memory = memorySink()
  const warden = createWarden({
    policy: await loadPolicy(join(here, 'policy.yaml')),
    // the credential lives in the broker, never in the pool config or the agent's reach
    broker: staticBroker({
      credentials: { 'postgres:shop': { type: 'password', username: 'postgres', password: 'postgres' } },
    }),
    audit: [jsonlSink(auditFile), memory],
    // Refund approvals come from the AI SDK's approval step below; anything else held is refused.
    approvals: autoDeny(),
  })
  const pool = new Pool(warden, {
    resource: 'shop',
    host: db.host,
    port: db.port,
    database: 'postgres',
    max: 2,
  })
  const outbox: { to: string; body: string }[] = []

  const tools = guardTools(
    warden,
    {
      run_sql: tool({
        description: 'Run one SQL statement on the shop database',
        inputSchema: z.object({ sql: z.string() }),
        execute: async ({ sql }) => {
          const result = await pool.query(sql)
          return { command: result.command, rowCount: result.rowCount, rows: result.rows }
        },
      }),
      refund_order: tool({
        description: 'Refund one order',
        inputSchema: z.object({ order_id: z.number().int(), amount: z.number() }),
        execute: async ({ order_id, amount }) => {
          await pool.query("UPDATE orders SET status = 'refunded' WHERE id = $1", [order_id])
          return { order_id, amount, status: 'refunded' }
        },
      }),
      send_email: tool({
        description: 'Send an email',
        inputSchema: z.object({ to: z.string(), body: z.string() }),
        execute: async ({ to, body }) => {
          outbox.push({ to, body })
          return { sent: true, to }
        },
      }),
    },
    { resource: 'support-agent', approvedBy: 'support-lead (via the app)' },
  )

  const { model, prompts } = scriptedModel(supportScript())
  const session = await warden.session({
    principal: { id: 'support-agent', type: 'agent', groups: ['support'] },
  })
  const messages: ModelMessage[] = [
    { role: 'user', content: 'Ada Lovelace says order 101 arrived broken. Sort it out and let her know.' },
  ]
  let answer = ''
  const shown = new Set<string>()
  const show = (toolName: string, input: unknown, output: unknown) => {
    const out = output as { denied?: boolean; message?: string }
    say(`model → ${toolName}(${typeof input === 'string' ? input : JSON.stringify(input)})`)
    say(out?.denied ? `  warden refused: ${out.message}` : `  result: ${JSON.stringify(output)}`)
  }
  try {
    say('user: Ada Lovelace says order 101 arrived broken. Sort it out and let her know.')
    // One agent run = one causal chain: what it reads early constrains what it may do later.
    await session.run(async () => {
      for (let turn = 0; turn < 4 && answer === ''; turn++) {
        const result = await generateText({ model, tools, messages, stopWhen: stepCountIs(10) })
        // a tool the SDK ran after an approval is not in a step: its result is in the messages
        const inSteps = new Set(result.steps.flatMap((s) => s.toolResults.map((r) => r.toolCallId)))
        for (const m of result.response.messages) {
          if (m.role !== 'tool') continue
          for (const part of m.content) {
            if (part.type !== 'tool-result' || inSteps.has(part.toolCallId) || shown.has(part.toolCallId))
              continue
            shown.add(part.toolCallId)
            show(
              part.toolName,
              'the approved call',
              part.output.type === 'json' ? part.output.value : part.output,
            )
          }
        }
        for (const s of result.steps) {
          for (const r of s.toolResults) {
            shown.add(r.toolCallId)
            show(r.toolName, r.input, r.output)
          }
        }
        messages.push(...result.response.messages)
        const asks = result.content.filter((p) => p.type === 'tool-approval-request')
        if (asks.length === 0) {
          answer = result.text
          break
        }
        // The app's own approval UI (here: scripted). Warden decided *that* a human must approve;
        // the AI SDK asked; the answer releases exactly this call.
        const approved = options.approveRefunds ?? true
        for (const ask of asks)
          say(
            `approval requested: ${ask.toolCall.toolName}(${JSON.stringify(ask.toolCall.input)}) → ${approved ? 'approved' : 'rejected'} by a human`,
          )
        messages.push({
          role: 'tool',
          content: asks.map((a) => ({
            type: 'tool-approval-response' as const,
            approvalId: a.approvalId,
            approved,
            reason: approved ? undefined : 'not without a photo of the damage',
          })),
        })
      }
    })
    say(`model: ${answer}`)
    const { rows } = await session.run(() => pool.query('SELECT status FROM orders WHERE id = 101'))
    await warden.close()
    const chain = await verifyChain(auditFile)
    say('')
    say(`audit (${auditFile}):`)
    for (const r of memory.records) {
      if (r.type !== 'command') continue
      say(
        `  ${r.decision?.effect?.padEnd(7)} ${r.outcome?.status?.padEnd(8)} ${r.action?.padEnd(12)} ${r.command}${r.approval ? `  [approval: ${r.approval.status} by ${r.approval.by}]` : ''}`,
      )
    }
    say(`hash chain: ${chain.ok ? 'verified' : 'BROKEN'} (${chain.count} records)`)
    return {
      answer,
      transcript,
      prompts,
      outbox,
      records: memory.records,
      chainValid: chain.ok,
      orderStatus: String((rows[0] as { status?: string } | undefined)?.status),
    }
  } finally {
    await warden.close()
    await pool.end().catch(() => undefined)
    await db.stop()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runAgentExample().catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
}
