// The handles a guarded SFTP session opened, with the path and mode each open was decided for.
// A handle is only bytes the server chose (OpenSSH: a small integer), and the caller can edit the
// Buffer it was given, so handles are keyed by their content at the time of each call, and the
// call sends a copy of the bytes looked up, not the caller's Buffer.
import { SftpRefusal } from './sftp-args.js'

export interface OpenHandle {
  readonly path: string
  /** The open was decided as a write (WRITE, APPEND, CREAT, TRUNC or EXCL asked). */
  readonly writable: boolean
  readonly directory: boolean
}

export class HandleTable {
  readonly #open = new Map<string, OpenHandle>()

  add(handle: unknown, entry: OpenHandle): void {
    if (Buffer.isBuffer(handle)) this.#open.set(handle.toString('hex'), entry)
  }

  /** The entry and a private copy of `handle`; refuses one this session did not open. */
  get(handle: unknown, method: string): { entry: OpenHandle; bytes: Buffer } {
    if (!Buffer.isBuffer(handle)) {
      throw new SftpRefusal(
        'warden:sftp-handle',
        `sftp.${method}: the handle must be a Buffer from open() or opendir()`,
      )
    }
    const bytes = Buffer.from(handle)
    const entry = this.#open.get(bytes.toString('hex'))
    if (!entry) {
      throw new SftpRefusal(
        'warden:sftp-handle',
        `sftp.${method}: unknown handle; use a handle returned by this guarded session's open() or opendir() and not yet closed`,
      )
    }
    return { entry, bytes }
  }

  /** Forgotten when close is sent: nothing may use it after, even if the server reuses the value. */
  delete(bytes: Buffer): void {
    this.#open.delete(bytes.toString('hex'))
  }
}
