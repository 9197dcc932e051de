// A scripted language model on the AI SDK's own MockLanguageModelV3: no network, no API key. Each
// turn the script sees the tool results the SDK sent back and answers with text or tool calls.
import type { LanguageModelV3Content, LanguageModelV3Prompt } from '@ai-sdk/provider'
import { MockLanguageModelV3 } from 'ai/test'
import { MockLanguageModelV3 as MockLanguageModelV3Of6 } from 'ai6/test'

export interface ToolResultSeen {
  readonly toolName: string
  readonly output: unknown
}
export type Reply =
  | { readonly text: string }
  | { readonly calls: readonly { readonly tool: string; readonly input: unknown }[] }
export type Script = (turn: {
  readonly step: number
  readonly results: readonly ToolResultSeen[]
  readonly prompt: LanguageModelV3Prompt
}) => Reply

const usage = {
  inputTokens: { total: 10, noCache: 10, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 5, text: 5, reasoning: undefined },
}

/** The mock model class of AI SDK 7 (default) or of 6 (the `ai6` alias), both V3 models. */
export const MOCK_MODELS = {
  7: MockLanguageModelV3,
  6: MockLanguageModelV3Of6 as unknown as typeof MockLanguageModelV3,
}

export function scriptedModel(script: Script, major: 6 | 7 = 7): MockLanguageModelV3 {
  let step = 0
  let calls = 0
  return new MOCK_MODELS[major]({
    doGenerate: async ({ prompt }) => {
      // the tool results of the latest tool message: what the model "reads" this turn
      const last = prompt.at(-1)
      const results: ToolResultSeen[] = []
      if (last?.role === 'tool') {
        for (const part of last.content) {
          if (part.type !== 'tool-result') continue
          const o = part.output
          results.push({
            toolName: part.toolName,
            output: o.type === 'json' ? o.value : o.type === 'text' ? o.value : o,
          })
        }
      }
      const reply = script({ step: step++, results, prompt })
      const content: LanguageModelV3Content[] =
        'text' in reply
          ? [{ type: 'text', text: reply.text }]
          : reply.calls.map((c) => ({
              type: 'tool-call',
              toolCallId: `call-${++calls}`,
              toolName: c.tool,
              input: JSON.stringify(c.input),
            }))
      return {
        content,
        finishReason: { unified: 'text' in reply ? 'stop' : 'tool-calls', raw: undefined },
        usage,
        warnings: [],
      }
    },
  })
}
