// @warden/drivers/mcp: Model Context Protocol clients and servers guarded by Warden (see packages/drivers/docs/agents.md).
export { guardMcpClient, type GuardMcpClientOptions } from './guard-mcp-client.js'
export { guardMcpServer, type GuardMcpServerOptions } from './guard-mcp-server.js'
