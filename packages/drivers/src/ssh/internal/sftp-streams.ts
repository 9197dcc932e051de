// createReadStream/createWriteStream: ssh2 returns them synchronously, so the guard returns its own
// stream at once and connects it to ssh2's after the decision.
import { PassThrough, type Readable, Writable } from 'node:stream'
import { norm, openFlags, opensForWrite, optionOf, pinOption, refuse, SftpRefusal } from './sftp-args.js'
import type { SftpCheck, SftpGate } from './sftp-guard.js'
import type { HandleTable } from './sftp-handles.js'

type StreamFactory<S> = (p: string, o?: object) => S
/**
 * createReadStream/createWriteStream(path, options): the stream opens `path` with `options.flags`
 * (default "r" / "w"), so a read stream with `{flags: 'w'}` is a write; or, given `options.handle`,
 * it opens nothing and uses that handle, which is then decided as any use of a handle is.
 */
function streamCheck(
  handles: HandleTable,
  method: 'createReadStream' | 'createWriteStream',
  p: unknown,
  options: unknown,
): { check: SftpCheck | undefined; path: unknown; options: unknown } {
  const handle = optionOf(options, 'handle')
  if (handle !== undefined && handle !== null) {
    const { entry, bytes } = handles.get(handle, method)
    // ssh2 closes a stream's handle when the stream ends (autoClose): forget it now, fail closed.
    if (optionOf(options, 'autoClose') !== false) handles.delete(bytes)
    const writes = method === 'createWriteStream' && !entry.writable
    return {
      check: writes ? { action: 'sftp.write', op: 'write', path: entry.path } : undefined,
      path: p,
      options: pinOption(options, 'handle', bytes),
    }
  }
  const given = optionOf(options, 'flags')
  const pflags = openFlags(
    given === undefined ? (method === 'createReadStream' ? 'r' : 'w') : given,
    method,
    p,
  )
  const path = norm(p)
  // A write stream writes whatever its flags say: a write, as writeFile is.
  const check: SftpCheck =
    opensForWrite(pflags) || method === 'createWriteStream'
      ? { action: 'sftp.write', op: 'write', path }
      : { action: 'sftp.read', op: 'read', path }
  return { check, path, options: pinOption(options, 'flags', pflags) }
}

/**
 * The stream's check, or, when the guard refuses the stream, the refusal handed to the gate
 * (denied and audited by core): a promise that rejects with the decision's error.
 */
function guarded<T>(gate: SftpGate, check: () => T): T | Promise<never> {
  try {
    return check()
  } catch (error) {
    if (!(error instanceof SftpRefusal)) throw error
    return refuse(error, gate)
  }
}

function decided<T>(gate: SftpGate, check: SftpCheck | undefined, run: () => Promise<T>): Promise<T> {
  return check ? gate(check, run) : run()
}

export function readStream(
  target: object,
  gate: SftpGate,
  handles: HandleTable,
  p: unknown,
  o?: unknown,
): Readable {
  const out = new PassThrough()
  const described = guarded(gate, () => streamCheck(handles, 'createReadStream', p, o))
  if (described instanceof Promise) {
    described.catch((denied) => out.destroy(denied))
    return out
  }
  const { check, path, options } = described
  decided(
    gate,
    check,
    () =>
      new Promise<void>((resolve, reject) => {
        const create = (target as { createReadStream: StreamFactory<Readable> }).createReadStream
        const real = create.call(target, path as string, options as object)
        real.once('error', reject).once('end', () => resolve())
        real.pipe(out)
      }),
  ).catch((error) => out.destroy(error))
  return out
}

/**
 * The caller's stream finishes only when the real one has closed (every byte acknowledged by the
 * server), so "finish"/"close" mean written, as on ssh2's own stream.
 */
export function writeStream(
  target: object,
  gate: SftpGate,
  handles: HandleTable,
  p: unknown,
  o?: unknown,
): Writable {
  const described = guarded(gate, () => streamCheck(handles, 'createWriteStream', p, o))
  if (described instanceof Promise) {
    // Refused: nothing is written; every write and the end fail with the decision's error.
    const out = new Writable({
      write: (_chunk, _encoding, callback) => described.catch(callback),
      final: (callback) => described.catch(callback),
    })
    described.catch((denied) => out.destroy(denied))
    return out
  }
  const { check, path, options } = described
  let release: (stream: Writable) => void = () => {}
  const ready = new Promise<Writable>((resolve) => {
    release = resolve
  })
  const finished = decided(
    gate,
    check,
    () =>
      new Promise<void>((resolve, reject) => {
        const create = (target as { createWriteStream: StreamFactory<Writable> }).createWriteStream
        const real = create.call(target, path as string, options as object)
        real.once('error', reject).once('close', () => resolve())
        release(real)
      }),
  )
  const out = new Writable({
    write(chunk, encoding, callback) {
      ready.then((real) => real.write(chunk, encoding, (error) => callback(error ?? null)))
    },
    final(callback) {
      ready.then((real) => real.end())
      finished.then(() => callback(), callback)
    },
  })
  finished.catch((error) => out.destroy(error))
  return out
}
