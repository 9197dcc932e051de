// @warden/drivers/pg: guarded node-postgres (see packages/drivers/docs/pg.md).
export { describePostgres, loadPostgresParser, type DescribePostgresOptions } from './describe.js'
