export { WardenError, WardenDeniedError, type WardenErrorCode } from './errors.js'
export type * from './request.js'
export type * from './decision.js'
