// SFTP: every operation that names a path is described (`sftp.read/write/remove` with the path)
// and decided before it is sent. The SFTP object is wrapped in a Proxy; ssh2's own internal calls
// (readFile → open/read/close) use the real object, so they are not decided twice. An open is a read
// only when its SFTP flags ask for READ alone. A handle is usable only if this session opened it;
// reading through it belongs to the decided open, anything that changes state through it (a write
// on a read handle, fsetstat/fchmod/fchown/futimes) is decided as a write of its path. Unknown
// methods are refused.
import path from 'node:path'
import type { Action, SftpFacts } from '@warden/policy'
import { WardenError } from '@warden/policy'
import { norm, openFlags, opensForWrite, optionOf, pinOption, refuse, SftpRefusal } from './sftp-args.js'
import { HandleTable, type OpenHandle } from './sftp-handles.js'
import { readStream, writeStream } from './sftp-streams.js'

type SftpAction = Extract<Action, 'sftp.read' | 'sftp.write' | 'sftp.remove'>

export interface SftpCheck {
  readonly action: SftpAction
  readonly op: SftpFacts['op']
  readonly path: string
  /** Set when the guard refuses the call itself: the command's `refusal`, denied and audited by core. */
  readonly refusal?: { readonly rule: `warden:${string}`; readonly reason: string }
}

/** Runs `run` under a decision for `check`; rejects when it is refused. */
export type SftpGate = <T>(check: SftpCheck, run: () => Promise<T>) => Promise<T>

type Args = unknown[]
interface Described {
  readonly checks: SftpCheck[]
  /** Arguments that are paths (sent normalized). */
  readonly paths: number[]
  /** Arguments sent in place of the caller's: decided flags, pinned options, copied handles. */
  readonly replace?: Readonly<Record<number, unknown>>
  /** For open/opendir: what the handle it returns was decided for. */
  readonly opened?: () => OpenHandle
}
/** What an operation is: the decisions it needs and the arguments to send. */
type Describe = (args: Args, handles: HandleTable, method: string) => Described
type PathDescribe = (args: Args) => Described

const read =
  (op: SftpFacts['op'], at = 0): PathDescribe =>
  (args) =>
    typeof args[at] === 'string'
      ? { checks: [{ action: 'sftp.read', op, path: norm(args[at]) }], paths: [at] }
      : none
const write =
  (op: SftpFacts['op'], at = 0): PathDescribe =>
  (args) =>
    typeof args[at] === 'string'
      ? { checks: [{ action: 'sftp.write', op, path: norm(args[at]) }], paths: [at] }
      : none
const remove: Describe = (args) => ({
  checks: [{ action: 'sftp.remove', op: 'remove', path: norm(args[0]) }],
  paths: [0],
})
const rename: Describe = (args) => ({
  checks: [
    { action: 'sftp.remove', op: 'rename', path: norm(args[0]) },
    { action: 'sftp.write', op: 'rename', path: norm(args[1]) },
  ],
  paths: [0, 1],
})
/**
 * symlink(target, linkPath) and ext_openssh_hardlink(oldPath, newPath): both ends are decided as
 * writes. The new name is written; and reads and writes through it reach the other end, which the
 * folder's rules would not see (they decide the path given), so the other end needs write access too.
 */
const link =
  (relativeToLink: boolean): Describe =>
  (args) => {
    const target = norm(args[0])
    const name = norm(args[1])
    // A relative symlink target is resolved from the link's folder, not the session's.
    const points =
      relativeToLink && !path.posix.isAbsolute(target)
        ? path.posix.join(path.posix.dirname(name), target)
        : target
    return {
      checks: [
        { action: 'sftp.write', op: 'write', path: points },
        { action: 'sftp.write', op: 'write', path: name },
      ],
      paths: [0, 1],
    }
  }
const none = { checks: [], paths: [] }

/** open(path, flags, [attrs], cb): decided from the pflags ssh2 will send (see sftp-open-flags.ts). */
const open: Describe = (args) => {
  const pflags = openFlags(args[1], 'open', args[0])
  const writable = opensForWrite(pflags)
  const described = (writable ? write : read)(writable ? 'write' : 'read')(args)
  return {
    ...described,
    replace: { 1: pflags },
    opened: () => ({ path: norm(args[0]), writable, directory: false }),
  }
}
const opendir: Describe = (args) => ({
  ...read('list')(args),
  opened: () => ({ path: norm(args[0]), writable: false, directory: true }),
})
/** readFile(path, [options], cb): ssh2 opens with `options.flag || 'r'`, so `{flag: 'w'}` truncates. */
const readFile: Describe = (args) => {
  const options = typeof args[1] === 'function' ? undefined : args[1]
  const pflags = openFlags(optionOf(options, 'flag') || 'r', 'readFile', args[0])
  const described = opensForWrite(pflags) ? write('write')(args) : read('read')(args)
  return typeof args[1] === 'function'
    ? described
    : { ...described, replace: { 1: pinOption(options, 'flag', pflags) } }
}
/** readdir takes a path (ssh2 opens, reads and closes it) or a handle from opendir. */
const readdir: Describe = (args, handles, method) =>
  Buffer.isBuffer(args[0]) ? onHandle('read')(args, handles, method) : read('list')(args)

type HandleUse = 'read' | 'write' | 'setstat' | 'close'
/**
 * An operation on handle(s) at `at`. Reads belong to the open that was decided. A write belongs
 * to it only if that open was decided as a write; on a read handle it is decided as the write it
 * is. Changing attributes (fsetstat, fchmod, fchown, futimes) is always decided, as setstat is.
 */
const onHandle =
  (use: HandleUse, at = 0): Describe =>
  (args, handles, method) => {
    const { entry, bytes } = handles.get(args[at], method)
    const replace = { [at]: bytes }
    if (use === 'close') handles.delete(bytes)
    const decide = use === 'setstat' || (use === 'write' && !entry.writable)
    return {
      checks: decide ? [{ action: 'sftp.write', op: 'write', path: entry.path }] : [],
      paths: [],
      replace,
    }
  }
/** ext_copy_data(src, srcOffset, len, dst, dstOffset, cb): reads src, writes dst. */
const copyData: Describe = (args, handles, method) => {
  const src = onHandle('read', 0)(args, handles, method)
  const dst = onHandle('write', 3)(args, handles, method)
  return { checks: dst.checks, paths: [], replace: { ...src.replace, ...dst.replace } }
}

const OPERATIONS: Readonly<Record<string, Describe>> = {
  fastGet: read('read'),
  fastPut: write('write', 1),
  readFile,
  writeFile: write('write'),
  appendFile: write('write'),
  open,
  opendir,
  readdir,
  stat: read('stat'),
  lstat: read('stat'),
  exists: read('stat'),
  realpath: read('stat'),
  readlink: read('stat'),
  ext_openssh_statvfs: read('stat'),
  ext_openssh_expandPath: read('stat'),
  unlink: remove,
  rmdir: remove,
  rename,
  ext_openssh_rename: rename,
  mkdir: write('mkdir'),
  setstat: write('write'),
  utimes: write('write'),
  chown: write('write'),
  chmod: write('write'),
  ext_openssh_lsetstat: write('write'),
  symlink: link(true),
  ext_openssh_hardlink: link(false),
  close: onHandle('close'),
  read: onHandle('read'),
  readData: onHandle('read'),
  fstat: onHandle('read'),
  ext_openssh_fstatvfs: onHandle('read'),
  ext_openssh_fsync: onHandle('read'),
  write: onHandle('write'),
  writeData: onHandle('write'),
  fsetstat: onHandle('setstat'),
  futimes: onHandle('setstat'),
  fchown: onHandle('setstat'),
  fchmod: onHandle('setstat'),
  ext_copy_data: copyData,
}

const PASS = new Set([
  'on',
  'once',
  'off',
  'addListener',
  'removeListener',
  'removeAllListeners',
  'prependListener',
  'prependOnceListener',
  'emit',
  'listeners',
  'rawListeners',
  'listenerCount',
  'eventNames',
  'getMaxListeners',
  'setMaxListeners',
  'end',
  'destroy',
])

export function guardSftp<T extends object>(sftp: T, gate: SftpGate): T {
  const handles = new HandleTable()
  return new Proxy(sftp, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver)
      if (typeof value !== 'function' || typeof name !== 'string') return value
      if (PASS.has(name)) return value.bind(target)
      if (name === 'createReadStream')
        return (p: unknown, o?: unknown) => readStream(target, gate, handles, p, o)
      if (name === 'createWriteStream')
        return (p: unknown, o?: unknown) => writeStream(target, gate, handles, p, o)
      const describe = OPERATIONS[name]
      if (!describe) {
        return () => {
          throw new WardenError(
            'ERR_WARDEN_UNSUPPORTED',
            `sftp.${name} is not supported by the guarded client`,
          )
        }
      }
      return (...args: Args) => {
        let described: Described
        try {
          described = describe(args, handles, name)
        } catch (error) {
          if (!(error instanceof SftpRefusal)) throw error
          return refused(name, error, args, gate)
        }
        return call(target, name, described, args, gate, handles)
      }
    },
    set() {
      return false
    },
  })
}

/** A call the guard refuses: decided (denied) and audited through the gate, its callback given the error. */
function refused(name: string, refusal: SftpRefusal, args: Args, gate: SftpGate): boolean {
  const at = args.findLastIndex((a) => typeof a === 'function')
  const callback = at >= 0 ? (args[at] as (...r: unknown[]) => void) : () => {}
  refuse(refusal, gate).catch((error) => (name === 'exists' ? callback(false) : callback(error)))
  return true
}

function call(
  target: object,
  name: string,
  described: Described,
  args: Args,
  gate: SftpGate,
  handles: HandleTable,
): boolean {
  const { checks, paths, replace, opened } = described
  const at = args.findLastIndex((a) => typeof a === 'function')
  const callback = at >= 0 ? (args[at] as (...r: unknown[]) => void) : () => {}
  const method = (target as Record<string, (...a: Args) => unknown>)[name]
  const real = [...args]
  for (const i of paths) real[i] = norm(args[i])
  for (const [i, value] of Object.entries(replace ?? {})) real[Number(i)] = value
  const exists = name === 'exists' // calls back with a boolean, no error
  const run = () =>
    new Promise<unknown[]>((resolve, reject) => {
      const done = (...result: unknown[]) => {
        if (exists) resolve(result)
        else if (result[0]) reject(result[0])
        else {
          // Registered before the caller sees the handle, so its first use finds it.
          if (opened) handles.add(result[1], opened())
          resolve(result.slice(1))
        }
      }
      if (at >= 0) real[at] = done
      else real.push(done)
      method.apply(target, real)
    })
  let chained: () => Promise<unknown[]> = run
  for (const check of [...checks].reverse()) {
    const inner = chained
    chained = () => gate(check, inner)
  }
  chained().then(
    (result) => (exists ? callback(...result) : callback(undefined, ...result)),
    (error) => (exists ? callback(false) : callback(error)),
  )
  return true
}
