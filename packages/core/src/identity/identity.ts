import type { Principal } from '@warden/policy'

/** Turns a bearer token into a verified principal; throws ERR_WARDEN_TOKEN_INVALID otherwise. */
export interface Identity {
  verify(token: string): Promise<Principal>
}
