// @warden/drivers/pg: guarded node-postgres (see packages/drivers/docs/pg.md).

export { Client, type ClientConfig, type PgPreviewHook } from './client.js'
export { type DescribePostgresOptions, describePostgres, loadPostgresParser } from './describe.js'
export { Pool, type PoolConfig } from './pool.js'
export {
  type PostgresRoleBroker,
  type PostgresRoleBrokerOptions,
  postgresRoleBroker,
} from './postgres-role-broker.js'
