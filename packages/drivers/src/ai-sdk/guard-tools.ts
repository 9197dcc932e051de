import {
  type Approver,
  type Command,
  guardTool,
  isToolRefusal,
  type SessionSource,
  type ToolDescription,
  type ToolRefusal,
} from '@warden/core'
import { WardenDeniedError, WardenTypeError } from '@warden/policy'
import type { ModelMessage, Tool, ToolSet } from 'ai'
import { registerGuarded } from './guarded-tool-set.js'

/**
 * What `execute` receives as its second argument. Taken from the installed `ai` (6 or 7) rather than
 * named: `ToolExecutionOptions` is generic in 7 and not in 6.
 */
export type ToolCallOptions = Parameters<NonNullable<Tool['execute']>>[1]

/** Describes one tool's call for policy (e.g. SQL facts for a tool that runs SQL). */
export type AiToolDescriber = (
  input: never,
  options: ToolCallOptions,
) => ToolDescription | Promise<ToolDescription>

export interface GuardToolsOptions<TOOLS extends ToolSet = ToolSet> {
  /** What policies match on: a tool resource name (`kind: tool`) or a full resource. */
  readonly resource: string | Command['resource']
  /** Per-tool describers; a tool without one is a `tool.call` with `{name, args}`. */
  readonly describe?: {
    readonly [K in keyof TOOLS]?: (
      input: Parameters<NonNullable<TOOLS[K]['execute']>>[0],
      options: ToolCallOptions,
    ) => ToolDescription | Promise<ToolDescription>
  }
  /**
   * Map Warden's `approve` to the SDK's own tool approval (`needsApproval`), so the app's approval UI
   * asks the user and the SDK's approval releases the call. Default true. When false, Warden's
   * approver (createWarden({approvals})) holds the call instead.
   */
  readonly sdkApproval?: boolean
  /** Who the audit trail names for an approval given through the SDK. Default `ai-sdk`. */
  readonly approvedBy?: string
}

/**
 * Guards a Vercel AI SDK tool set: each tool's `execute` is described, decided, masked and audited;
 * a denial becomes a refusal result the model reads (`{denied, rule, reason, message}`) instead of an
 * error; an `approve` decision asks through the SDK's own `needsApproval` step, and the user's
 * approval in the message history releases the call (bound to that exact call).
 * Exported from `@warden/drivers/ai-sdk`. Each call rejects with `ERR_WARDEN_NO_SESSION` outside a session.
 * @example
 * const tools = guardTools(warden, { query: tool({ inputSchema, execute }) }, { resource: 'support-agent' })
 * await session.run(() => generateText({ model, tools, prompt }))
 */
export function guardTools<TOOLS extends ToolSet>(
  source: SessionSource,
  tools: TOOLS,
  options: GuardToolsOptions<TOOLS>,
): TOOLS {
  if (tools === null || typeof tools !== 'object')
    throw new WardenTypeError('guardTools: "tools" must be an AI SDK tool set')
  if (options === null || typeof options !== 'object')
    throw new WardenTypeError('guardTools: options with "resource" are required')
  const sdkApproval = options.sdkApproval ?? true
  const approvedBy = options.approvedBy ?? 'ai-sdk'
  const out: Record<string, Tool> = {}
  for (const [name, original] of Object.entries(tools) as [string, Tool][]) {
    const execute = original.execute
    if (typeof execute !== 'function') {
      // executed elsewhere (client-side or by the provider): nothing runs here to guard
      out[name] = original
      continue
    }
    const describe = options.describe?.[name] as AiToolDescriber | undefined
    const guarded = guardTool(
      source,
      async (input: unknown, opts: ToolCallOptions, call: CallState) => {
        // decided `deny` when the SDK asked (toolApproval): that record is the refusal; never run
        if (call.refuseRun) throw new WardenDeniedError('warden:ai-sdk-denied', DENIED_TO_SDK)
        const result = await execute(input as never, opts)
        if (!isAsyncIterable(result)) return result
        // streamed (preliminary) results are collected so every chunk is masked before anyone sees it
        call.streamed = true
        return collect(result)
      },
      {
        resource: options.resource,
        name,
        describe: describe === undefined ? undefined : (input, opts) => describe(input as never, opts),
        approver: sdkApproval ? (_input, opts) => sdkApprover(opts, approvedBy) : undefined,
      },
    )
    const ownApproval = original.needsApproval
    out[name] = {
      ...original,
      needsApproval: sdkApproval
        ? async (
            input: unknown,
            // 6 passes experimental_context, 7 context: passed on as they came
            opts: { toolCallId: string; messages: ModelMessage[] },
          ) => {
            const own =
              typeof ownApproval === 'function'
                ? await ownApproval(input as never, opts as never)
                : ownApproval === true
            if (own) return true
            const decision = await guarded.check(input, opts as ToolCallOptions, {
              streamed: false,
              refuseRun: false,
            })
            return decision.effect === 'approve'
          }
        : ownApproval,
      execute: async (input: unknown, opts: ToolCallOptions) => {
        const call: CallState = { streamed: false, refuseRun: false }
        const result = await guarded(input, opts, call)
        // a streamed result is replayed as a stream of its masked chunks (the last one is final)
        return call.streamed && Array.isArray(result) ? replay(result) : result
      },
      ...(original.toModelOutput && {
        // a refusal is not the tool's output type: the tool's own converter never sees it
        toModelOutput: (o: { toolCallId: string; input: unknown; output: unknown }) =>
          isToolRefusal(o.output)
            ? { type: 'json' as const, value: refusalJson(o.output) }
            : original.toModelOutput!(o as never),
      }),
    } as Tool
    registerGuarded(out[name], {
      check: (input, opts) => guarded.check(input, opts, { streamed: false, refuseRun: false }),
      refuse: (input, opts) => guarded(input, opts, { streamed: false, refuseRun: true }),
      ownApproval,
    })
  }
  return out as TOOLS
}

interface CallState {
  streamed: boolean
  /** Set when the call was denied to the SDK (toolApproval) and is only being recorded. */
  refuseRun: boolean
}

const DENIED_TO_SDK =
  'this call was denied to the AI SDK (toolApproval) and policy now allows it; it did not run, ask again'

async function* replay(chunks: readonly unknown[]): AsyncGenerator<unknown> {
  for (const c of chunks) yield c
}

function isAsyncIterable(v: unknown): v is AsyncIterable<unknown> {
  return (
    v !== null &&
    typeof v === 'object' &&
    typeof (v as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function'
  )
}

async function collect(it: AsyncIterable<unknown>): Promise<unknown[]> {
  const chunks: unknown[] = []
  for await (const c of it) chunks.push(c)
  return chunks
}

function refusalJson(r: ToolRefusal): { [k: string]: string | true } {
  return { denied: true, code: r.code, tool: r.tool, rule: r.rule, reason: r.reason, message: r.message }
}

/**
 * The SDK's approval of this tool call, as an Approver: the user approved `tool-approval-request`
 * for exactly this toolCallId (the SDK checks the input, and its signature when
 * `experimental_toolApprovalSecret` is set). No approval in the history ⇒ Warden's own approver.
 */
function sdkApprover(opts: ToolCallOptions | undefined, by: string): Approver | undefined {
  const toolCallId = opts?.toolCallId
  const messages = opts?.messages
  if (typeof toolCallId !== 'string' || !Array.isArray(messages)) return undefined
  let approvalId: string | undefined
  for (const m of messages) {
    if (m.role !== 'assistant' || typeof m.content === 'string') continue
    // an automatic approval (AI SDK 7 toolApproval 'approved', i.e. policy said allow) is not a
    // human's: it must never release a call policy now holds for approval
    for (const part of m.content)
      if (
        part.type === 'tool-approval-request' &&
        part.toolCallId === toolCallId &&
        (part as { isAutomatic?: boolean }).isAutomatic !== true
      )
        approvalId = part.approvalId
  }
  if (approvalId === undefined) return undefined
  let response: { approved: boolean; reason?: string } | undefined
  for (const m of messages) {
    if (m.role !== 'tool') continue
    for (const part of m.content)
      if (part.type === 'tool-approval-response' && part.approvalId === approvalId) response = part
  }
  if (response === undefined) return undefined
  const { approved, reason } = response
  return {
    async request(request) {
      return {
        status: approved ? 'approved' : 'rejected',
        by,
        reason,
        fingerprint: request.fingerprint,
        id: request.id,
      }
    },
  }
}
