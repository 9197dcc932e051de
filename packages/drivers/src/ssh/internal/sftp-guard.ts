// SFTP: every operation that names a path is described (`sftp.read/write/remove` with the path)
// and decided before it is sent. The SFTP object is wrapped in a Proxy; ssh2's own internal calls
// (readFile → open/read/close) use the real object, so they are not decided twice. Operations on a
// handle (read/write/close/fstat…) belong to an `open` that was decided. Unknown methods are refused.
import path from 'node:path'
import { PassThrough, type Readable, type Writable } from 'node:stream'
import type { Action, SftpFacts } from '@warden/policy'
import { WardenError } from '@warden/policy'

type SftpAction = Extract<Action, 'sftp.read' | 'sftp.write' | 'sftp.remove'>

export interface SftpCheck {
  readonly action: SftpAction
  readonly op: SftpFacts['op']
  readonly path: string
}

/** Runs `run` under a decision for `check`; rejects when it is refused. */
export type SftpGate = <T>(check: SftpCheck, run: () => Promise<T>) => Promise<T>

type Args = unknown[]
/** Which arguments are paths and what each operation is. Returns [] for handle operations. */
type Describe = (args: Args) => { checks: SftpCheck[]; paths: number[] }

const read =
  (op: SftpFacts['op'], at = 0): Describe =>
  (args) =>
    typeof args[at] === 'string'
      ? { checks: [{ action: 'sftp.read', op, path: norm(args[at]) }], paths: [at] }
      : none
const write =
  (op: SftpFacts['op'], at = 0): Describe =>
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
const open: Describe = (args) => {
  const flags = args[1]
  const writes =
    typeof flags === 'number' ? (flags & 3) !== 0 : typeof flags !== 'string' || /[wa+x]/.test(flags)
  return (writes ? write : read)(writes ? 'write' : 'read')(args)
}
const none = { checks: [], paths: [] }
const handle: Describe = () => none

const OPERATIONS: Readonly<Record<string, Describe>> = {
  fastGet: read('read'),
  fastPut: write('write', 1),
  readFile: read('read'),
  writeFile: write('write'),
  appendFile: write('write'),
  open,
  opendir: read('list'),
  readdir: read('list'),
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
  close: handle,
  read: handle,
  write: handle,
  readData: handle,
  writeData: handle,
  fstat: handle,
  fsetstat: handle,
  futimes: handle,
  fchown: handle,
  fchmod: handle,
  ext_openssh_fsync: handle,
  ext_openssh_fstatvfs: handle,
  ext_copy_data: handle,
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

/** `a/../../b` → `../b`: the path decided is the path sent. */
function norm(value: unknown): string {
  if (typeof value !== 'string')
    throw new WardenError('ERR_WARDEN_UNSUPPORTED', 'sftp: paths must be strings')
  return path.posix.normalize(value)
}

export function guardSftp<T extends object>(sftp: T, gate: SftpGate): T {
  return new Proxy(sftp, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver)
      if (typeof value !== 'function' || typeof name !== 'string') return value
      if (PASS.has(name)) return value.bind(target)
      if (name === 'createReadStream') return (p: string, o?: object) => readStream(target, gate, p, o)
      if (name === 'createWriteStream') return (p: string, o?: object) => writeStream(target, gate, p, o)
      const describe = OPERATIONS[name]
      if (!describe) {
        return () => {
          throw new WardenError(
            'ERR_WARDEN_UNSUPPORTED',
            `sftp.${name} is not supported by the guarded client`,
          )
        }
      }
      return (...args: Args) => call(target, name, describe, args, gate)
    },
    set() {
      return false
    },
  })
}

function call(target: object, name: string, describe: Describe, args: Args, gate: SftpGate): boolean {
  const { checks, paths } = describe(args)
  const at = args.findLastIndex((a) => typeof a === 'function')
  const callback = at >= 0 ? (args[at] as (...r: unknown[]) => void) : () => {}
  const method = (target as Record<string, (...a: Args) => unknown>)[name]
  const real = [...args]
  for (const i of paths) real[i] = norm(args[i])
  const exists = name === 'exists' // calls back with a boolean, no error
  const run = () =>
    new Promise<unknown[]>((resolve, reject) => {
      const done = (...result: unknown[]) => {
        if (exists) resolve(result)
        else if (result[0]) reject(result[0])
        else resolve(result.slice(1))
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

function readStream(target: object, gate: SftpGate, p: string, options?: object): Readable {
  const out = new PassThrough()
  const path = norm(p)
  gate(
    { action: 'sftp.read', op: 'read', path },
    () =>
      new Promise<void>((resolve, reject) => {
        const real = (target as { createReadStream(p: string, o?: object): Readable }).createReadStream(
          path,
          options,
        )
        real.once('error', reject).once('end', () => resolve())
        real.pipe(out)
      }),
  ).catch((error) => out.destroy(error))
  return out
}

function writeStream(target: object, gate: SftpGate, p: string, options?: object): Writable {
  const out = new PassThrough()
  const path = norm(p)
  gate(
    { action: 'sftp.write', op: 'write', path },
    () =>
      new Promise<void>((resolve, reject) => {
        const real = (target as { createWriteStream(p: string, o?: object): Writable }).createWriteStream(
          path,
          options,
        )
        real.once('error', reject).once('close', () => resolve())
        out.pipe(real)
      }),
  ).catch((error) => out.destroy(error))
  return out
}
