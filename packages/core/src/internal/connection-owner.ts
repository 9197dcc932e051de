// Who a connection belongs to: the principal that opened it, as everything a policy or broker can
// tell apart (issuer, id, groups, claims). A command from any other principal's session is refused
// on it, so a Client connected in alice's session never runs bob's queries on alice's credential.
import type { Principal } from '@warden/policy'
import { WardenError } from '@warden/policy'
import type { Credential } from '../broker/broker.js'
import type { ConnectionGrant, Session } from '../session.js'
import { canonicalJson } from './canonical-json.js'
import { sha256Hex } from './sha256.js'

export function ownerKey(p: Principal): string {
  return sha256Hex(canonicalJson({ issuer: p.issuer, id: p.id, groups: p.groups, claims: p.claims }))
}

/** The built-in refusal of a command on a connection another principal opened, or undefined. */
export function foreignConnection(
  grant: ConnectionGrant,
  owner: string,
): { rule: 'warden:connection-owner'; reason: string } | undefined {
  if (grant.owner === owner) return undefined
  return {
    rule: 'warden:connection-owner',
    reason:
      "this connection was opened with another principal's credential; open one in this session (a Client or Connection belongs to the session that connected it)",
  }
}

/** The lease of a new connection for `session`, checked to carry the credential type the driver needs. */
export async function connectionGrant(
  session: Session,
  owner: string,
  resource: Parameters<Session['lease']>[0],
  options: { readonly scope?: string; readonly credentialType?: Credential['type'] },
): Promise<ConnectionGrant> {
  const lease = await session.lease(resource, options.scope ?? '')
  const wanted = options.credentialType
  if (wanted !== undefined && lease.credential?.type !== wanted)
    throw new WardenError(
      'ERR_WARDEN_BROKER',
      `${resource.kind}:${resource.name} needs a ${wanted} credential from the broker, got "${lease.credential?.type}"`,
    )
  return Object.freeze({ lease, owner })
}
