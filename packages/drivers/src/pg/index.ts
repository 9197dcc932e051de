// @warden/drivers/pg: guarded node-postgres (see packages/drivers/docs/pg.md).
export { describePostgres, loadPostgresParser, type DescribePostgresOptions } from './describe.js'
export { Client, type ClientConfig, type PgPreviewHook } from './client.js'
export { Pool, type PoolConfig } from './pool.js'
export { postgresRoleBroker, type PostgresRoleBroker, type PostgresRoleBrokerOptions } from './postgres-role-broker.js'
