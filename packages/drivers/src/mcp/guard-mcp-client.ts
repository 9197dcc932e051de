import {
  type Command,
  type GuardedTool,
  guardTool,
  isToolRefusal,
  type SessionSource,
  type ToolDescription,
} from '@warden/core'
import { WardenDeniedError, WardenError, WardenTypeError } from '@warden/policy'
import { CALL_META_KEY, newCallId } from './internal/call-link.js'
import { packJsonText, refusalResult, unpackJsonText } from './internal/tool-result.js'

export interface GuardMcpClientOptions {
  /** What policies match on for this server's tools: a tool resource name (`kind: tool`) or a full resource. */
  readonly resource: string | Command['resource']
  /** Per-tool describers (e.g. SQL facts for a remote `query` tool); others are `tool.call` with `{name, args}`. */
  readonly describe?: Readonly<
    Record<string, (args: Record<string, unknown>) => ToolDescription | Promise<ToolDescription>>
  >
}

/** What the guard needs of an MCP `Client` (1.x from `@modelcontextprotocol/sdk`, 2.x from `@modelcontextprotocol/client`). */
export interface McpClientLike {
  callTool(
    params: { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> },
    ...rest: never[]
  ): Promise<unknown>
  listTools(...args: never[]): Promise<{ tools: { name: string }[] }>
}

type CallParams = Parameters<McpClientLike['callTool']>[0]
type CallTool = (params: CallParams, ...rest: unknown[]) => Promise<unknown>
type ListTools = (...args: unknown[]) => Promise<{ tools: { name: string }[] }>

/**
 * Guards an MCP client (`Client` from `@modelcontextprotocol/sdk` 1.x or `@modelcontextprotocol/client`
 * 2.x): `listTools()` hides the tools
 * policy denies to this principal outright (decided with empty arguments; tools whose decision
 * depends on the arguments stay listed), and `callTool()` is decided, held for approval, masked
 * (JSON text too) and audited, a refusal coming back as an `isError` result for the model.
 * Each call sends a call id in `_meta["warden/call"]`, recorded here as `facts.call` and by a guarded
 * server too: one call, two linked records. A call the server refused is recorded here as denied
 * (rule and reason from the server's refusal), never as `allow ok`.
 * Everything else is the client itself. Exported from `@warden/drivers/mcp`.
 * @example
 * const client = guardMcpClient(warden, new Client({ name: 'agent', version: '1.0.0' }), { resource: 'github-mcp' })
 */
export function guardMcpClient<C extends McpClientLike>(
  source: SessionSource,
  client: C,
  options: GuardMcpClientOptions,
): C {
  if (typeof source?.current !== 'function')
    throw new WardenTypeError('guardMcpClient: the first argument must be a Session or the Warden')
  if (options === null || typeof options !== 'object')
    throw new WardenTypeError('guardMcpClient: options with "resource" are required')
  if (typeof client?.callTool !== 'function' || typeof client.listTools !== 'function')
    throw new WardenError(
      'ERR_WARDEN_UNSUPPORTED',
      'guardMcpClient: not an MCP Client (no callTool/listTools)',
    )
  const callTool = client.callTool.bind(client) as CallTool
  const listTools = client.listTools.bind(client) as ListTools
  const tools = new Map<
    string,
    GuardedTool<Record<string, unknown>, unknown, [string, CallParams, unknown[]]>
  >()
  const guarded = (name: string) => {
    let g = tools.get(name)
    if (g === undefined) {
      const describe = options.describe?.[name]
      g = guardTool(
        source,
        async (_args: Record<string, unknown>, _id: string, params: CallParams, rest: unknown[]) => {
          const result = await callTool(params, ...rest)
          // the server refused it: this side records the server's denial, not `allow ok`
          const refusal = (result as { _meta?: Record<string, unknown> } | null)?._meta?.['warden/refusal'] as
            | { rule?: unknown; reason?: unknown }
            | undefined
          if (refusal !== undefined && typeof refusal.rule === 'string')
            throw new WardenDeniedError(
              refusal.rule,
              typeof refusal.reason === 'string' ? refusal.reason : '',
            )
          return unpackJsonText(result)
        },
        {
          resource: options.resource,
          name,
          describe: describe === undefined ? undefined : (args) => describe(args),
          link: (_args, id) => id,
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
        const decision = await guarded(t.name).check({}, '', { name: t.name, arguments: {} }, [])
        // an error-forced deny means the rule needs the arguments: the call itself will be decided
        return decision.effect !== 'deny' || decision.rule.startsWith('error')
      }),
    )
    return { ...result, tools: result.tools.filter((_t, i) => visible[i]) }
  }
  const guardedCall: CallTool = async (params, ...rest) => {
    const id = newCallId()
    const linked = { ...params, _meta: { ...params._meta, [CALL_META_KEY]: id } }
    const result = await guarded(params.name)(params.arguments ?? {}, id, linked, rest)
    return isToolRefusal(result) ? refusalResult(result) : packJsonText(result)
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
