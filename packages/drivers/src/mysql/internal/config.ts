import type { Command } from '@warden/core'
import { WardenTypeError } from '@warden/policy'

/** The options Warden adds to mysql2's own. */
export interface MysqlGuardOptions {
  /** The resource name policies match on (`mysql:<resource>`). */
  readonly resource: string
  /** Labels policies can read as `resource.labels`. */
  readonly labels?: Readonly<Record<string, string>>
}

// Credentials come from the broker; LOCAL INFILE would let the server read client files.
const REFUSED = [
  'user',
  'password',
  'password1',
  'password2',
  'password3',
  'passwordSha1',
  'infileStreamFactory',
  'uri',
] as const

export interface SplitConfig {
  readonly resource: Command['resource']
  /** What goes to mysql2: no credentials, no typeCast function (applied per command instead). */
  readonly core: Record<string, unknown>
  readonly typeCast: unknown
}

export function splitConfig(config: unknown, factory: string): SplitConfig {
  if (config === null || typeof config !== 'object')
    throw new WardenTypeError(`${factory}: config must be an object with a "resource"`)
  const { resource, labels, ...rest } = config as Record<string, unknown> & MysqlGuardOptions
  if (typeof resource !== 'string' || resource === '')
    throw new WardenTypeError(
      `${factory}: "resource" must be a non-empty string (the name policies match on)`,
    )
  if (labels !== undefined && (labels === null || typeof labels !== 'object'))
    throw new WardenTypeError(`${factory}: "labels" must be an object`)
  for (const key of REFUSED) {
    if (rest[key] !== undefined) {
      throw new WardenTypeError(
        key === 'infileStreamFactory'
          ? `${factory}: "infileStreamFactory" (LOAD DATA LOCAL INFILE) is not supported through Warden`
          : `${factory}: "${key}" is not accepted; credentials come from the Warden broker (session.lease)`,
      )
    }
  }
  const core: Record<string, unknown> = { ...rest }
  const typeCast = core.typeCast
  if (typeof typeCast === 'function') delete core.typeCast
  const ref: Command['resource'] = Object.freeze({
    kind: 'mysql',
    name: resource,
    labels: labels ? Object.freeze({ ...labels }) : undefined,
  })
  return { resource: ref, core, typeCast: typeof typeCast === 'function' ? typeCast : undefined }
}
