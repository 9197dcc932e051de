import { isToolRefusal } from '@warden/core'
import type { ModelMessage } from 'ai'
import { guardedHandle } from './guarded-tool-set.js'

/** AI SDK 7's `ToolApprovalStatus`, spelled out so this module also compiles against `ai` 6. */
export type WardenToolApprovalStatus =
  | { readonly type: 'not-applicable' }
  | { readonly type: 'approved' | 'denied' | 'user-approval'; readonly reason: string }

/** What AI SDK 7 passes a generic `toolApproval` function (the fields Warden reads). */
export interface ToolApprovalCall {
  readonly toolCall: { readonly toolCallId: string; readonly toolName: string; readonly input: unknown }
  readonly tools: Readonly<Record<string, unknown>> | undefined
  readonly messages: ModelMessage[]
}

/**
 * AI SDK 7's call-level `toolApproval` for tools returned by `guardTools`: policy's `allow` is
 * `approved`, `deny` is `denied` (recorded in the audit trail now, as the tool never runs), and
 * `approve` is `user-approval`, each with the deciding rule and reason. The user's answer to a
 * `user-approval` releases the call through the pipeline, bound to that exact call. A tool that is
 * not guarded is `not-applicable` unless it asks for approval itself.
 * Exported from `@warden/drivers/ai-sdk` (AI SDK 7; with 6, `guardTools` maps `approve` to `needsApproval`).
 * @example
 * const tools = guardTools(warden, { refund }, { resource: 'support-agent' })
 * await session.run(() => generateText({ model, tools, toolApproval: toolApproval(), prompt }))
 */
export function toolApproval(): (call: ToolApprovalCall) => Promise<WardenToolApprovalStatus> {
  return async ({ toolCall, tools, messages }) => {
    const tool = tools?.[toolCall.toolName]
    const handle = guardedHandle(tool)
    const options = { toolCallId: toolCall.toolCallId, messages } as never
    if (handle === undefined) return ownApproval(tool, toolCall.input, options, 'not guarded by Warden')
    const decision = await handle.check(toolCall.input, options)
    const why = `Warden policy rule "${decision.rule}": ${decision.reason}`
    switch (decision.effect) {
      case 'allow':
        // policy allows; the app's own needsApproval still gets its say
        return (await ownApproval(tool, toolCall.input, options, why, handle.ownApproval)).type ===
          'user-approval'
          ? { type: 'user-approval', reason: why }
          : { type: 'approved', reason: why }
      case 'approve':
        return { type: 'user-approval', reason: why }
      case 'deny': {
        const refusal = await handle.refuse(toolCall.input, options)
        return { type: 'denied', reason: isToolRefusal(refusal) ? refusal.message : why }
      }
    }
  }
}

async function ownApproval(
  tool: unknown,
  input: unknown,
  options: never,
  reason: string,
  own: unknown = (tool as { needsApproval?: unknown } | undefined)?.needsApproval,
): Promise<WardenToolApprovalStatus> {
  const asks = typeof own === 'function' ? await own(input, options) : own === true
  return asks ? { type: 'user-approval', reason } : { type: 'not-applicable' }
}
