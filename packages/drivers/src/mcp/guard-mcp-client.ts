import type { Client } from '@modelcontextprotocol/sdk/client/index.js'
import {
  type Command,
  type GuardedTool,
  guardTool,
  isToolRefusal,
  type SessionSource,
  type ToolDescription,
} from '@warden/core'
import { WardenTypeError } from '@warden/policy'
import { packJsonText, refusalResult, unpackJsonText } from './internal/tool-result.js'

export interface GuardMcpClientOptions {
  /** What policies match on for this server's tools: a tool resource name (`kind: tool`) or a full resource. */
  readonly resource: string | Command['resource']
  /** Per-tool describers (e.g. SQL facts for a remote `query` tool); others are `tool.call` with `{name, args}`. */
  readonly describe?: Readonly<
    Record<string, (args: Record<string, unknown>) => ToolDescription | Promise<ToolDescription>>
  >
}

type CallTool = Client['callTool']
type ListTools = Client['listTools']

/**
 * Guards an MCP client (`Client` from `@modelcontextprotocol/sdk`): `listTools()` hides the tools
 * policy denies to this principal outright (decided with empty arguments; tools whose decision
 * depends on the arguments stay listed), and `callTool()` is decided, held for approval, masked
 * (JSON text too) and audited, a refusal coming back as an `isError` result for the model.
 * Everything else is the client itself. Exported from `@warden/drivers/mcp`.
 * @example
 * const client = guardMcpClient(warden, new Client({ name: 'agent', version: '1.0.0' }), { resource: 'github-mcp' })
 */
export function guardMcpClient<C extends Client>(
  source: SessionSource,
  client: C,
  options: GuardMcpClientOptions,
): C {
  if (typeof source?.current !== 'function')
    throw new WardenTypeError('guardMcpClient: the first argument must be a Session or the Warden')
  if (options === null || typeof options !== 'object')
    throw new WardenTypeError('guardMcpClient: options with "resource" are required')
  const callTool = client.callTool.bind(client)
  const listTools = client.listTools.bind(client)
  const tools = new Map<
    string,
    GuardedTool<Record<string, unknown>, Awaited<ReturnType<CallTool>>, Parameters<CallTool>>
  >()
  const guarded = (name: string) => {
    let g = tools.get(name)
    if (g === undefined) {
      const describe = options.describe?.[name]
      g = guardTool(
        source,
        async (_args: Record<string, unknown>, ...call: Parameters<CallTool>) =>
          unpackJsonText(await callTool(...call)),
        {
          resource: options.resource,
          name,
          describe: describe === undefined ? undefined : (args) => describe(args),
        },
      )
      tools.set(name, g)
    }
    return g
  }

  const guardedList: ListTools = async (...a) => {
    const result = await listTools(...a)
    const visible = await Promise.all(
      result.tools.map(async (t) => {
        const decision = await guarded(t.name).check({}, { name: t.name, arguments: {} })
        // an error-forced deny means the rule needs the arguments: the call itself will be decided
        return decision.effect !== 'deny' || decision.rule.startsWith('error')
      }),
    )
    return { ...result, tools: result.tools.filter((_t, i) => visible[i]) }
  }
  const guardedCall: CallTool = async (...a) => {
    const [params] = a
    const result = await guarded(params.name)(params.arguments ?? {}, ...a)
    return (isToolRefusal(result) ? refusalResult(result) : packJsonText(result)) as Awaited<
      ReturnType<CallTool>
    >
  }

  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'callTool') return guardedCall
      if (prop === 'listTools') return guardedList
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    },
  })
}
