import type { Principal, ResourceRef } from '@warden/policy'
import type { Secret } from '../secret.js'

export type Credential =
  | { readonly type: 'password'; readonly username: string; readonly password: Secret }
  | { readonly type: 'token'; readonly token: Secret }
  | {
      readonly type: 'ssh'
      readonly username: string
      readonly privateKey: Secret
      /** OpenSSH user certificate (`ssh-ed25519-cert-v01@openssh.com AAAA...`), public data. */
      readonly certificate?: string
      /** Pinned host keys (OpenSSH public key lines) the driver must accept, if the broker knows them. */
      readonly hostKeys?: readonly string[]
    }
  | { readonly type: 'headers'; readonly headers: Readonly<Record<string, Secret>> }

export interface Lease {
  readonly id: string
  readonly credential: Credential
  readonly expiresAt: Date
  readonly renewable: boolean
}

export interface LeaseRequest {
  readonly resource: ResourceRef
  readonly principal: Principal
  /** Free-form scope (e.g. `read`, a database role); part of the lease cache key. */
  readonly scope: string
  /** The verified token the session was opened with, when there is one (httpBroker forwards it). */
  readonly token?: Secret
  /** Public key the broker should certify (ssh CA brokers). */
  readonly publicKey?: string
}

export interface Broker {
  issue(request: LeaseRequest): Promise<Lease>
  renew?(lease: Lease): Promise<Lease>
  revoke(lease: Lease): Promise<void>
  close?(): Promise<void>
}
