import { AsyncLocalStorage } from 'node:async_hooks'
import {
  type Command,
  guardTool,
  isToolRefusal,
  type Session,
  type SessionSource,
  type ToolDescription,
  WardenError,
} from '@warden/core'
import { WardenTypeError } from '@warden/policy'
import { linkedCallId } from './internal/call-link.js'
import { packJsonText, refusalResult, unpackJsonText } from './internal/tool-result.js'
import { registeredToolNames, requestMeta } from './mcp-internals.js'

export interface GuardMcpServerOptions {
  /** What policies match on: a tool resource name (`kind: tool`) or a full resource. */
  readonly resource: string | Command['resource']
  /** Per-tool describers (e.g. SQL facts for a `query` tool); others are `tool.call` with `{name, args}`. */
  readonly describe?: Readonly<
    Record<string, (args: Record<string, unknown>) => ToolDescription | Promise<ToolDescription>>
  >
  /**
   * The session for one call, e.g. from `extra.authInfo` on an HTTP transport. Default:
   * `source.current()` (a stdio server usually has one session for its life).
   */
  readonly session?: (extra: unknown) => Session | Promise<Session>
}

type Callback = (...args: unknown[]) => unknown

/** What the guard needs of an `McpServer` (1.x from `@modelcontextprotocol/sdk`, 2.x from `@modelcontextprotocol/server`). */
export interface McpServerLike {
  registerTool(name: string, config: never, callback: never): unknown
}

/** The parts of a RegisteredTool (1.x and 2.x) the guard keeps guarded. */
interface RegisteredTool {
  update(updates: { name?: unknown; callback?: unknown; [key: string]: unknown }): void
}

/**
 * Guards every tool handler of an MCP server (`McpServer` from `@modelcontextprotocol/sdk` 1.x or
 * `@modelcontextprotocol/server` 2.x): each
 * call is decided by policy, held for approval when policy says so, masked (JSON text too) and
 * audited; a refusal is an `isError` result whose text tells the model what happened. Attach it
 * before registering tools; it refuses a server that already has some (they would run unguarded).
 * A call from a guarded client carries the client's call id in `_meta`; the server's record keeps it
 * as `facts.call`, linking the two records of that call.
 * Exported from `@warden/drivers/mcp`. Throws `ERR_WARDEN_UNSUPPORTED` when the object is not an
 * McpServer this guard knows (no `registerTool` or no tool table).
 * @example
 * const server = guardMcpServer(session, new McpServer({ name: 'db', version: '1.0.0' }), { resource: 'db-mcp' })
 * server.registerTool('query', { inputSchema: { sql: z.string() } }, async ({ sql }) => ({ content: [...] }))
 */
export function guardMcpServer<S extends McpServerLike>(
  source: SessionSource,
  server: S,
  options: GuardMcpServerOptions,
): S {
  if (typeof source?.current !== 'function')
    throw new WardenTypeError('guardMcpServer: the first argument must be a Session or the Warden')
  if (options === null || typeof options !== 'object')
    throw new WardenTypeError('guardMcpServer: options with "resource" are required')
  const existing =
    typeof (server as { registerTool?: unknown } | null)?.registerTool === 'function'
      ? registeredToolNames(server)
      : null
  if (existing === null) {
    throw new WardenError(
      'ERR_WARDEN_UNSUPPORTED',
      'guardMcpServer: not an McpServer this guard supports (@modelcontextprotocol/sdk 1.x, @modelcontextprotocol/server 2.x): no registerTool or tool table, so tools would run unguarded',
    )
  }
  if (existing.length > 0) {
    throw new WardenTypeError(
      `guardMcpServer: tools ${existing.join(', ')} were registered before the guard; guard the server first, then register tools`,
    )
  }
  const sessionOf = options.session
  const callSession = new AsyncLocalStorage<Session>()
  const calls: SessionSource = { current: () => callSession.getStore() ?? source.current() }

  const wrap = (name: string, callback: Callback): Callback => {
    if (typeof callback !== 'function') return callback
    const describe = options.describe?.[name]
    const guarded = guardTool(
      calls,
      async (args: Record<string, unknown>, extra: unknown, hasArgs: boolean) =>
        unpackJsonText(await (hasArgs ? callback(args, extra) : callback(extra))),
      {
        resource: options.resource,
        name,
        describe: describe === undefined ? undefined : (args) => describe(args),
        link: (_args, extra) => linkedCallId(requestMeta(extra)),
      },
    )
    // the SDK calls (args, extra) for tools with an input schema and (extra) for those without
    return async (...a: unknown[]) => {
      const hasArgs = a.length >= 2
      const args = (hasArgs ? a[0] : {}) as Record<string, unknown>
      const extra = hasArgs ? a[1] : a[0]
      const call = () => guarded(args, extra, hasArgs)
      const result =
        sessionOf === undefined ? await call() : await callSession.run(await sessionOf(extra), call)
      return isToolRefusal(result) ? refusalResult(result) : packJsonText(result)
    }
  }

  // later callback changes and renames stay guarded
  const track = (name: string, callback: Callback, registered: RegisteredTool): RegisteredTool => {
    let current = { name, callback }
    const update = registered.update.bind(registered)
    registered.update = (updates: Parameters<RegisteredTool['update']>[0]) => {
      const next = {
        name: typeof updates.name === 'string' ? updates.name : current.name,
        callback: (updates.callback as Callback | undefined) ?? current.callback,
      }
      const rewrap = next.name !== current.name || next.callback !== current.callback
      current = next
      update(rewrap ? { ...updates, callback: wrap(next.name, next.callback) } : updates)
    }
    return registered
  }

  const registerTool = server.registerTool.bind(server) as unknown as (
    name: string,
    config: unknown,
    cb: Callback,
  ) => RegisteredTool
  ;(server as { registerTool: unknown }).registerTool = (name: string, config: unknown, cb: Callback) =>
    track(name, cb, registerTool(name, config, wrap(name, cb)))
  // 1.x only: the older tool() registration (2.x removed it)
  const legacy = server as unknown as { tool?: (name: string, ...rest: unknown[]) => RegisteredTool }
  if (typeof legacy.tool === 'function') {
    const tool = legacy.tool.bind(server)
    legacy.tool = (name: string, ...rest: unknown[]) => {
      const cb = rest.at(-1) as Callback
      return track(name, cb, tool(name, ...rest.slice(0, -1), wrap(name, cb)))
    }
  }
  // task-based tools run outside this path: refuse them rather than leave them unguarded
  const tasks = (server as { experimental?: { tasks?: { registerToolTask?: unknown } } }).experimental?.tasks
  if (tasks !== undefined && tasks !== null) {
    tasks.registerToolTask = () => {
      throw new WardenError(
        'ERR_WARDEN_UNSUPPORTED',
        'guardMcpServer: task-based tools (registerToolTask) are not guarded; register a regular tool',
      )
    }
  }
  return server
}
