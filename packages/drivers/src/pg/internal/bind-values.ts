import { prepareValue } from '../pg-internals.js'

/**
 * Replaces a query's values with pg's wire form of them, copied (Buffers too): what is decided,
 * shown to an approver and sent, taken at the call so the caller cannot change it afterwards. pg
 * prepares values again at submit time; on these it is the identity.
 */
export function bindValues(query: { values?: unknown }): readonly unknown[] | undefined {
  const given = query.values
  if (given === undefined || given === null) return undefined
  if (!Array.isArray(given)) return undefined // pg refuses it at submit ("Query values must be an array")
  const bound = given.map((v) => {
    const p = prepareValue(v)
    return Buffer.isBuffer(p) ? Buffer.from(p) : p
  })
  query.values = bound
  return bound
}
