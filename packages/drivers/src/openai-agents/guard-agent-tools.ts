import type { FunctionTool, RunContext, Tool, ToolInputGuardrailDefinition } from '@openai/agents'
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

export interface GuardAgentToolsOptions {
  /** What policies match on: a tool resource name (`kind: tool`) or a full resource. */
  readonly resource: string | Command['resource']
  /** Per-tool describers (e.g. SQL facts for a tool that runs SQL); others are `tool.call` with `{name, args}`. */
  readonly describe?: Readonly<
    Record<string, (args: Record<string, unknown>) => ToolDescription | Promise<ToolDescription>>
  >
  /** Who the audit trail names for an approval given through the run's interruptions. Default `openai-agents`. */
  readonly approvedBy?: string
}

type Details = Parameters<FunctionTool['invoke']>[2]

/** Per call: how the tool's output came back, and whether it may run at all. */
interface CallState {
  /** The output was JSON text, masked as JSON and turned back into text. */
  json: boolean
  /** Set when the input guardrail denied the call: it is only being recorded. */
  refuseRun: boolean
}

/**
 * Guards the function tools of an OpenAI Agents SDK agent (`tool()` from `@openai/agents`). Policy
 * speaks through the SDK's own mechanisms: `deny` is a tool input guardrail that rejects the call
 * (the model reads the refusal; the denial is audited), `approve` is the tool's `needsApproval`, so
 * the run stops with an interruption the app resolves with `state.approve()`/`state.reject()` and
 * resumes with `run(agent, state)`; that answer releases (or refuses) exactly that call in the
 * pipeline. Allowed calls run, their JSON output masked, and are audited. Hosted tools (web search,
 * file search…) run at the provider and are returned unchanged.
 * Exported from `@warden/drivers/openai-agents`. Calls reject with `ERR_WARDEN_NO_SESSION` outside a session.
 * @example
 * const agent = new Agent({ name: 'support', tools: guardAgentTools(warden, [refund], { resource: 'support-agent' }) })
 * let result = await session.run(() => run(agent, 'refund order 7'))
 */
export function guardAgentTools<T extends readonly Tool[]>(
  source: SessionSource,
  tools: T,
  options: GuardAgentToolsOptions,
): T {
  if (!Array.isArray(tools)) throw new WardenTypeError('guardAgentTools: "tools" must be an array of tools')
  if (options === null || typeof options !== 'object')
    throw new WardenTypeError('guardAgentTools: options with "resource" are required')
  const approvedBy = options.approvedBy ?? 'openai-agents'
  return tools.map((t) => (t.type === 'function' ? guardOne(source, t, options, approvedBy) : t)) as never
}

function guardOne(
  source: SessionSource,
  original: FunctionTool,
  options: GuardAgentToolsOptions,
  approvedBy: string,
): FunctionTool {
  const describe = options.describe?.[original.name]
  const guarded = guardTool(
    source,
    async (
      _args: Record<string, unknown>,
      ctx: RunContext,
      input: string,
      details: Details,
      call: CallState,
    ) => {
      if (call.refuseRun) throw new WardenDeniedError('warden:openai-agents-denied', DENIED_TO_SDK)
      const out = await original.invoke(ctx, input, details)
      const parsed = typeof out === 'string' ? jsonOf(out) : undefined
      if (parsed === undefined) return out
      call.json = true // masked as JSON, so column masks apply inside it
      return parsed
    },
    {
      resource: options.resource,
      name: original.name,
      describe: describe === undefined ? undefined : (args) => describe(args),
      approver: (_args, ctx, _input, details) => runApprover(ctx, original.name, details, approvedBy),
    },
  )
  const state = (): CallState => ({ json: false, refuseRun: false })

  const guardrail: ToolInputGuardrailDefinition = {
    type: 'tool_input',
    name: 'warden',
    run: async ({ context, toolCall }) => {
      const args = argsOf(toolCall.arguments)
      const decision = await guarded.check(args, context, toolCall.arguments, { toolCall }, state())
      if (decision.effect !== 'deny') return { behavior: { type: 'allow' } }
      const refusal = await guarded(
        args,
        context,
        toolCall.arguments,
        { toolCall },
        { ...state(), refuseRun: true },
      )
      const message = isToolRefusal(refusal) ? refusal.message : `denied by ${decision.rule}`
      return { behavior: { type: 'rejectContent', message }, outputInfo: refusal }
    },
  }

  return {
    ...original,
    needsApproval: async (ctx, input, callId) => {
      if (await original.needsApproval(ctx, input, callId)) return true
      const text = JSON.stringify(input)
      const decision = await guarded.check(argsOf(text), ctx, text, undefined, state())
      return decision.effect === 'approve'
    },
    invoke: async (ctx, input, details) => {
      const call = state()
      const out = await guarded(argsOf(input), ctx, input, details, call)
      if (isToolRefusal(out)) return JSON.stringify(refusalJson(out))
      return call.json ? JSON.stringify(out) : (out as string)
    },
    inputGuardrails: [guardrail, ...(original.inputGuardrails ?? [])],
  }
}

const DENIED_TO_SDK =
  'this call was rejected by the input guardrail and policy now allows it; it did not run, ask again'

/** The run's own answer to this call's interruption (state.approve / state.reject), as an Approver. */
function runApprover(ctx: RunContext, toolName: string, details: Details, by: string): Approver | undefined {
  const callId = details?.toolCall?.callId
  if (typeof callId !== 'string') return undefined
  const answer = ctx.isToolApproved({ toolName, callId })
  if (answer === undefined) return undefined // not asked through the SDK: the Warden's approver decides
  return {
    async request(request) {
      return {
        status: answer ? 'approved' : 'rejected',
        by,
        fingerprint: request.fingerprint,
        id: request.id,
      }
    },
  }
}

function jsonOf(text: string): unknown {
  const t = text.trimStart()
  if (!t.startsWith('{') && !t.startsWith('[')) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** The call's arguments as policy sees them: the JSON object the model sent, or `{input}`. */
function argsOf(text: string): Record<string, unknown> {
  const v = jsonOf(text)
  return v !== null && typeof v === 'object' && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : { input: text }
}

function refusalJson(r: ToolRefusal): Record<string, string | true> {
  return { denied: true, code: r.code, tool: r.tool, rule: r.rule, reason: r.reason, message: r.message }
}
