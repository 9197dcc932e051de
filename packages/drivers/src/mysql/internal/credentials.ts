import type { Lease, Session } from '@warden/core'
import { revealSecret } from '@warden/core'
import { WardenError } from '@warden/policy'

/** What a physical connection remembers about the credential it authenticated with. */
export interface LeaseInfo {
  readonly id: string
  readonly expiresAt: number
  /** The principal whose lease it is (issuer + id): a connection never serves another principal. */
  readonly owner: string
}

export function ownerOf(session: Session): string {
  return `${session.principal.issuer}\u0000${session.principal.id}`
}

export function leaseInfo(lease: Lease, owner: string): LeaseInfo {
  return Object.freeze({ id: lease.id, expiresAt: lease.expiresAt.getTime(), owner })
}

/** The user and password of a lease, revealed at the last moment for the handshake. */
export function passwordCredential(lease: Lease): { user: string; password: string } {
  const c = lease.credential
  if (c.type !== 'password') {
    throw new WardenError(
      'ERR_WARDEN_BROKER',
      `mysql needs a password credential from the broker, got "${c.type}"`,
    )
  }
  return { user: c.username, password: revealSecret(c.password) }
}
