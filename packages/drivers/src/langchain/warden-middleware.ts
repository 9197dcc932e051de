import { interrupt } from '@langchain/langgraph'
import {
  type Approver,
  type Command,
  guardTool,
  isToolRefusal,
  type SessionSource,
  type ToolDescription,
} from '@warden/core'
import { WardenTypeError } from '@warden/policy'
import { createMiddleware, ToolMessage } from 'langchain'

export interface WardenMiddlewareOptions {
  /** What policies match on: a tool resource name (`kind: tool`) or a full resource. */
  readonly resource: string | Command['resource']
  /** Per-tool describers (e.g. SQL facts for a tool that runs SQL); others are `tool.call` with `{name, args}`. */
  readonly describe?: Readonly<
    Record<string, (args: Record<string, unknown>) => ToolDescription | Promise<ToolDescription>>
  >
  /** Who the audit trail names for an approval given by resuming the graph. Default `langchain`. */
  readonly approvedBy?: string
}

/** What the graph's interrupt carries to the app for a call policy holds for approval. */
export interface WardenApprovalInterrupt {
  readonly type: 'warden/approval'
  readonly tool: string
  readonly toolCallId: string | undefined
  readonly args: Readonly<Record<string, unknown>>
  readonly rule: string
  readonly reason: string
}

/** How the app resumes it: `new Command({ resume: { approved: true } })`. */
export interface WardenApprovalResume {
  readonly approved: boolean
  readonly reason?: string
}

type Handler = Parameters<NonNullable<Parameters<typeof createMiddleware>[0]['wrapToolCall']>>[1]
type Request = Parameters<Handler>[0]
type CallRest = [Request, Handler, { message?: unknown }, WardenApprovalResume | undefined]

/**
 * LangChain v1 agent middleware (`createAgent({ middleware: [wardenMiddleware(...)] })`): every tool
 * call the agent makes is decided, masked and audited in `wrapToolCall`. A denial is the tool's
 * message (the model reads the refusal). An `approve` decision interrupts the graph (LangGraph's
 * `interrupt`, so the agent needs a checkpointer) with a {@link WardenApprovalInterrupt}; the app
 * resumes with `new Command({ resume: { approved } })` and that answer releases or refuses exactly
 * that call in the pipeline: nothing blocks inside Warden's approver.
 * Exported from `@warden/drivers/langchain`.
 * @example
 * const agent = createAgent({ model, tools, checkpointer, middleware: [wardenMiddleware(warden, { resource: 'support-agent' })] })
 */
export function wardenMiddleware(source: SessionSource, options: WardenMiddlewareOptions) {
  if (typeof source?.current !== 'function')
    throw new WardenTypeError('wardenMiddleware: the first argument must be a Session or the Warden')
  if (options === null || typeof options !== 'object')
    throw new WardenTypeError('wardenMiddleware: options with "resource" are required')
  const approvedBy = options.approvedBy ?? 'langchain'
  const guards = new Map<string, ReturnType<typeof guardFor>>()

  function guardFor(name: string) {
    const describe = options.describe?.[name]
    return guardTool<Record<string, unknown>, unknown, CallRest>(
      source,
      async (
        _args: Record<string, unknown>,
        request: Request,
        handler: Handler,
        out: { message?: unknown },
      ) => {
        const message = await handler(request)
        out.message = message
        // a ToolMessage's content is what the model reads: masked (as JSON when it is JSON)
        return message instanceof ToolMessage ? contentOf(message.content) : message
      },
      {
        resource: options.resource,
        name,
        describe: describe === undefined ? undefined : (args) => describe(args),
        approver: (_args, _request, _handler, _out, answer) =>
          answer === undefined ? undefined : resumedApprover(answer, approvedBy),
      },
    )
  }

  return createMiddleware({
    name: 'WardenMiddleware',
    wrapToolCall: async (request, handler) => {
      const { name, id } = request.toolCall
      let guarded = guards.get(name)
      if (guarded === undefined) {
        guarded = guardFor(name)
        guards.set(name, guarded)
      }
      const args = (request.toolCall.args ?? {}) as Record<string, unknown>
      const out: { message?: unknown } = {}
      const decision = await guarded.check(args, request as Request, handler as Handler, out, undefined)
      // approve: the graph pauses here (first pass); resumed, interrupt() returns the app's answer
      const answer =
        decision.effect === 'approve'
          ? (interrupt({
              type: 'warden/approval',
              tool: name,
              toolCallId: id,
              args,
              rule: decision.rule,
              reason: decision.reason,
            } satisfies WardenApprovalInterrupt) as WardenApprovalResume | undefined)
          : undefined
      const result = await guarded(args, request as Request, handler as Handler, out, answer)
      if (isToolRefusal(result))
        return new ToolMessage({
          content: JSON.stringify({ ...result }),
          tool_call_id: id ?? '',
          name,
          status: 'error',
        })
      if (!(out.message instanceof ToolMessage)) return out.message as never // a Command: passed through
      return new ToolMessage({
        ...out.message,
        content: typeof result === 'string' ? result : JSON.stringify(result),
        tool_call_id: out.message.tool_call_id,
      })
    },
  })
}

/** The app's answer to the interrupt, as the approver of this call (fingerprint-bound by the pipeline). */
function resumedApprover(answer: WardenApprovalResume, by: string): Approver {
  return {
    async request(approval) {
      return {
        status: answer?.approved === true ? 'approved' : 'rejected',
        by,
        reason: answer?.reason,
        fingerprint: approval.fingerprint,
        id: approval.id,
      }
    },
  }
}

function contentOf(content: unknown): unknown {
  if (typeof content !== 'string') return content
  const t = content.trimStart()
  if (!t.startsWith('{') && !t.startsWith('[')) return content
  try {
    return JSON.parse(content)
  } catch {
    return content
  }
}
