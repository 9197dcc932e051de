// A scripted "model" on the AI SDK's MockLanguageModelV3: no network, no API key. Each turn it sees
// the tool results the SDK sent back (exactly what a real model would read) and answers from a script.
import { MockLanguageModelV3 } from 'ai/test'

export interface Seen {
  readonly toolName: string
  readonly output: unknown
}
export type Reply =
  | { readonly text: string }
  | { readonly call: { readonly tool: string; readonly input: Record<string, unknown> } }
export type Script = (results: readonly Seen[]) => Reply

const usage = {
  inputTokens: { total: 0, noCache: 0, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 0, text: 0, reasoning: undefined },
}

/** Everything the model was shown, turn by turn (to prove what it never saw). */
export interface ScriptedModel {
  readonly model: MockLanguageModelV3
  readonly prompts: string[]
}

export function scriptedModel(script: Script): ScriptedModel {
  const prompts: string[] = []
  let ids = 0
  const model = new MockLanguageModelV3({
    doGenerate: async ({ prompt }) => {
      prompts.push(JSON.stringify(prompt))
      const last = prompt.at(-1)
      const results: Seen[] = []
      if (last?.role === 'tool') {
        for (const part of last.content) {
          if (part.type !== 'tool-result') continue
          const o = part.output
          results.push({
            toolName: part.toolName,
            output: o.type === 'json' || o.type === 'text' ? o.value : o,
          })
        }
      }
      const reply = script(results)
      if ('text' in reply)
        return {
          content: [{ type: 'text', text: reply.text }],
          finishReason: { unified: 'stop', raw: undefined },
          usage,
          warnings: [],
        }
      return {
        content: [
          {
            type: 'tool-call',
            toolCallId: `call-${++ids}`,
            toolName: reply.call.tool,
            input: JSON.stringify(reply.call.input),
          },
        ],
        finishReason: { unified: 'tool-calls', raw: undefined },
        usage,
        warnings: [],
      }
    },
  })
  return { model, prompts }
}
