// A scripted model on the OpenAI Agents SDK's own Model interface: no network, no API key. Each turn
// the script sees the function call outputs sent back and answers with text or function calls.
import type { Model, ModelRequest, ModelResponse } from '@openai/agents'
import { Usage } from '@openai/agents'

export type Reply = { readonly text: string } | { readonly calls: readonly { tool: string; args: unknown }[] }
export type Script = (turn: { step: number; outputs: string[] }) => Reply

export function scriptedModel(script: Script): Model {
  let step = 0
  let calls = 0
  return {
    async getResponse(request: ModelRequest): Promise<ModelResponse> {
      const items = Array.isArray(request.input) ? request.input : []
      const outputs = items
        .filter((i) => (i as { type?: string }).type === 'function_call_result')
        .map((i) => JSON.stringify((i as { output?: unknown }).output))
      const reply = script({ step: step++, outputs })
      const output: ModelResponse['output'] =
        'text' in reply
          ? [
              {
                type: 'message',
                role: 'assistant',
                status: 'completed',
                content: [{ type: 'output_text', text: reply.text }],
              },
            ]
          : reply.calls.map((c) => ({
              type: 'function_call' as const,
              callId: `call-${++calls}`,
              name: c.tool,
              arguments: JSON.stringify(c.args),
              status: 'completed' as const,
            }))
      return { usage: new Usage(), output, responseId: `r-${step}` }
    },
    // biome-ignore lint/correctness/useYield: streaming is not used by these tests
    async *getStreamedResponse() {
      throw new Error('scriptedModel: streaming is not scripted')
    },
  }
}
