// @warden/drivers/mcp: Model Context Protocol clients and servers guarded by Warden (see packages/drivers/docs/agents.md).
export { type GuardMcpClientOptions, guardMcpClient } from './guard-mcp-client.js'
export { type GuardMcpServerOptions, guardMcpServer } from './guard-mcp-server.js'
