// SFTP arguments as ssh2 sends them: paths, open flags, options read once.
// Open flags (draft-ietf-secsh-filexfer-02 pflags) as ssh2 1.x sends them. A request is a read
// only when it asks for nothing but READ: CREAT, TRUNC, APPEND and EXCL change the file system
// without a single WRITE (`open(p, 0x10)` truncates, `0x08` creates), so they are writes.
import path from 'node:path'
import { WardenDeniedError, WardenError } from '@warden/policy'
import type { SftpGate } from './sftp-guard.js'

/**
 * What the guard refuses itself (flags ssh2 would not map exactly, a handle this session does not
 * hold, a path that is not a string). Thrown while describing a call; the guard turns it into a
 * command with a `warden:*` refusal, which core decides as a deny before policy and audits.
 */
export class SftpRefusal extends WardenError {
  constructor(
    readonly rule: `warden:sftp-${'flags' | 'handle' | 'path'}`,
    message: string,
    /** The path the refused call named, when it named one as a string. */
    readonly path = '',
  ) {
    super('ERR_WARDEN_UNSUPPORTED', message)
  }
}

/**
 * Hands a refused call to the gate as a write (the strictest reading) carrying the refusal, so core
 * denies and audits it by `refusal.rule`; nothing is sent. Should a gate decide it otherwise, the
 * run still refuses (recorded as denied by the same rule).
 */
export function refuse(refusal: SftpRefusal, gate: SftpGate): Promise<never> {
  const path = refusal.path === '' ? '' : norm(refusal.path)
  return gate(
    { action: 'sftp.write', op: 'write', path, refusal: { rule: refusal.rule, reason: refusal.message } },
    () => Promise.reject(new WardenDeniedError(refusal.rule, refusal.message)),
  )
}

export const OPEN_MODE = { READ: 0x01, WRITE: 0x02, APPEND: 0x04, CREAT: 0x08, TRUNC: 0x10, EXCL: 0x20 }
const { READ, WRITE, APPEND, CREAT, TRUNC, EXCL } = OPEN_MODE

// ssh2/lib/protocol/SFTP.js `stringFlagMap` (ssh2 >=1.4 <2), copied so the bits decided are the bits sent.
const STRING_FLAGS: Readonly<Record<string, number>> = Object.freeze({
  r: READ,
  'r+': READ | WRITE,
  w: TRUNC | CREAT | WRITE,
  wx: TRUNC | CREAT | WRITE | EXCL,
  xw: TRUNC | CREAT | WRITE | EXCL,
  'w+': TRUNC | CREAT | READ | WRITE,
  'wx+': TRUNC | CREAT | READ | WRITE | EXCL,
  'xw+': TRUNC | CREAT | READ | WRITE | EXCL,
  a: APPEND | CREAT | WRITE,
  ax: APPEND | CREAT | WRITE | EXCL,
  xa: APPEND | CREAT | WRITE | EXCL,
  'a+': APPEND | CREAT | READ | WRITE,
  'ax+': APPEND | CREAT | READ | WRITE | EXCL,
  'xa+': APPEND | CREAT | READ | WRITE | EXCL,
})

/**
 * The pflags ssh2 would send for `flags` (a number or one of its flag strings). Anything ssh2 would
 * not map exactly (unknown strings, prototype keys such as "toString" that ssh2's plain-object
 * lookup turns into 0, non-integers, values outside uint32) is refused, so what is decided is what
 * is sent: the guard passes this number, never the caller's value, to ssh2.
 */
export function openFlags(flags: unknown, method: string, path?: unknown): number {
  if (typeof flags === 'number' && Number.isInteger(flags) && flags >= 0 && flags <= 0xffffffff) return flags
  if (typeof flags === 'string' && Object.hasOwn(STRING_FLAGS, flags)) return STRING_FLAGS[flags] as number
  throw new SftpRefusal(
    'warden:sftp-flags',
    `sftp.${method}: open flags must be an SFTP flag number (0 to 0xffffffff) or one of ${Object.keys(STRING_FLAGS).join(' ')}`,
    typeof path === 'string' ? path : '',
  )
}

/** True unless the flags ask for READ alone (or nothing, which sshd opens read-only). */
export const opensForWrite = (pflags: number): boolean => (pflags & ~READ) !== 0

/**
 * A copy of an options object whose `key` is fixed to `value`, read once. ssh2 reads options
 * again after the decision (and through the prototype chain), so a getter could otherwise
 * answer "r" to the guard and "w" to ssh2.
 */
export function pinOption(options: unknown, key: string, value: unknown): object {
  const base = typeof options === 'object' && options !== null ? options : {}
  const pinned = Object.create(base) as object
  Object.defineProperty(pinned, key, { value, enumerable: true })
  // A string option means an encoding to ssh2; keep that meaning.
  if (typeof options === 'string')
    Object.defineProperty(pinned, 'encoding', { value: options, enumerable: true })
  return pinned
}

/** Reads `key` once from ssh2-style options (a string or nothing means ssh2's default). */
export function optionOf(options: unknown, key: string): unknown {
  if (typeof options !== 'object' || options === null) return undefined
  return (options as Record<string, unknown>)[key]
}

/** `a/../../b` → `../b`: the path decided is the path sent. */
export function norm(value: unknown): string {
  if (typeof value !== 'string') throw new SftpRefusal('warden:sftp-path', 'sftp: paths must be strings')
  return path.posix.normalize(value)
}
