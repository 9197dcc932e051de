import type { ConnectionGrant, Lease } from '@warden/core'
import { revealSecret } from '@warden/core'

/** What a physical connection remembers about the credential it authenticated with. */
export interface LeaseInfo {
  readonly id: string
  readonly expiresAt: number
  /** The principal whose lease it is (core's owner key): a pooled connection serves only it. */
  readonly owner: string
  /** From session.connect: passed on every command of a Connection, so core checks the owner. */
  readonly grant: ConnectionGrant
}

export function leaseInfo(grant: ConnectionGrant): LeaseInfo {
  const lease = grant.lease
  return Object.freeze({ id: lease.id, expiresAt: lease.expiresAt.getTime(), owner: grant.owner, grant })
}

/** The user and password of a lease, revealed at the last moment for the handshake. */
export function passwordCredential(lease: Lease): { user: string; password: string } {
  const c = lease.credential
  // Leases come from session.connect(…, {credentialType: 'password'}), which checked the type.
  if (c.type !== 'password') throw new TypeError('not a password credential')
  return { user: c.username, password: revealSecret(c.password) }
}
