export { describeMysql, MAX_MYSQL_STATEMENT_LENGTH } from './describe.js'
