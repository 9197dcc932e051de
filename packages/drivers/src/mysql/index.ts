export {
  type CallbackClient,
  Connection,
  createConnection,
  type GuardedConnectionOptions,
  type PreparedStatement,
  type QueryCallback,
  type QueryResult,
  type QueryValues,
} from './connection.js'
export { describeMysql, MAX_MYSQL_STATEMENT_LENGTH } from './describe.js'
export type { MysqlGuardOptions } from './internal/config.js'
export { type MysqlUserBroker, type MysqlUserBrokerOptions, mysqlUserBroker } from './mysql-user-broker.js'
export { createPool, type GuardedPoolOptions, Pool } from './pool.js'
