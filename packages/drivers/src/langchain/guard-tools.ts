import type { CallbackManagerForToolRun } from '@langchain/core/callbacks/manager'
import type { StructuredToolInterface } from '@langchain/core/tools'
import {
  type Command,
  guardTool,
  isToolRefusal,
  type SessionSource,
  type ToolDescription,
} from '@warden/core'
import { WardenTypeError } from '@warden/policy'

export interface GuardLangChainToolsOptions {
  /** What policies match on: a tool resource name (`kind: tool`) or a full resource. */
  readonly resource: string | Command['resource']
  /** Per-tool describers (e.g. SQL facts for a tool that runs SQL); others are `tool.call` with `{name, args}`. */
  readonly describe?: Readonly<Record<string, (args: never) => ToolDescription | Promise<ToolDescription>>>
}

// `_call(arg, runManager, config)` is the method every LangChain tool implements and `invoke`/`call`
// run after validating the input against the schema (@langchain/core >=1 <2, exercised by the tests).
interface ToolWithCall {
  _call(arg: unknown, runManager?: CallbackManagerForToolRun, config?: unknown): Promise<unknown>
  readonly name: string
  readonly responseFormat?: string
}

/** Per call: set when the tool was a generator, whose result then is `{events, value}`. */
interface CallState {
  generator: boolean
}

/**
 * Guards one LangChain tool (`tool()`, `DynamicStructuredTool`, any `StructuredTool`): the returned
 * tool is the same tool (same class, name, schema, description) whose every call is described,
 * decided, held for approval by the Warden approver when policy says so, masked and audited. A
 * denial is the tool's output, a JSON refusal the model reads (`{denied, rule, reason, message}`);
 * the tool's own errors still throw. Exported from `@warden/drivers/langchain`.
 * @example
 * const [search] = guardTools(warden, [searchTool], { resource: 'support-agent' })
 */
export function guardLangChainTool<T extends StructuredToolInterface>(
  source: SessionSource,
  tool: T,
  options: GuardLangChainToolsOptions,
): T {
  const original = tool as unknown as ToolWithCall
  if (typeof original?._call !== 'function' || typeof original.name !== 'string') {
    throw new WardenTypeError(
      'guardLangChainTool: "tool" must be a LangChain tool (tool(), DynamicStructuredTool or a StructuredTool)',
    )
  }
  const name = original.name
  const describe = options?.describe?.[name]
  const guarded = guardTool(
    source,
    async (
      arg: unknown,
      runManager: CallbackManagerForToolRun | undefined,
      config: unknown,
      call: CallState,
    ): Promise<unknown> => {
      const raw = await original._call(arg, runManager, config)
      if (!isAsyncGenerator(raw)) return raw
      call.generator = true
      // a generator tool streams events, then returns: both are masked before anyone sees them
      const events: unknown[] = []
      let step = await raw.next()
      while (!step.done) {
        events.push(step.value)
        step = await raw.next()
      }
      return { value: step.value, events }
    },
    {
      resource: options?.resource,
      name,
      describe: describe === undefined ? undefined : (arg) => describe(arg as never),
    },
  )
  // an object whose prototype is the tool: every field and method is the tool's, except _call
  const wrapped = Object.create(tool) as T & ToolWithCall
  Object.defineProperty(wrapped, '_call', {
    value: async (arg: unknown, runManager?: CallbackManagerForToolRun, config?: unknown) => {
      const call: CallState = { generator: false }
      const out = await guarded(arg, runManager, config, call)
      if (isToolRefusal(out)) {
        const refusal = { ...out }
        return original.responseFormat === 'content_and_artifact'
          ? [JSON.stringify(refusal), refusal]
          : refusal
      }
      if (!call.generator) return out
      const { events, value } = out as { events: unknown[]; value: unknown }
      return replay(events, value)
    },
  })
  return wrapped
}

/**
 * Guards a list of LangChain tools (see {@link guardLangChainTool}). Exported from `@warden/drivers/langchain`.
 * @example
 * const agentTools = guardTools(session, [lookup, refund], { resource: 'support-agent' })
 */
export function guardTools<T extends readonly StructuredToolInterface[]>(
  source: SessionSource,
  tools: T,
  options: GuardLangChainToolsOptions,
): T {
  if (!Array.isArray(tools))
    throw new WardenTypeError('guardTools: "tools" must be an array of LangChain tools')
  return tools.map((t) => guardLangChainTool(source, t, options)) as unknown as T
}

function isAsyncGenerator(v: unknown): v is AsyncGenerator<unknown, unknown> {
  return (
    v !== null &&
    typeof v === 'object' &&
    typeof (v as AsyncGenerator).next === 'function' &&
    Symbol.asyncIterator in (v as object)
  )
}

async function* replay(events: readonly unknown[], value: unknown): AsyncGenerator<unknown, unknown> {
  for (const e of events) yield e
  return value
}
