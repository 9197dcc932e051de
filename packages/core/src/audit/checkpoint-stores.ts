import { type FileHandle, open, readFile } from 'node:fs/promises'
import { WardenError, WardenTypeError } from '@warden/policy'
import { canonicalObject } from '../internal/canonical-json.js'
import type { Checkpoint } from './checkpoint.js'
import type { CheckpointStore } from './checkpointer.js'

/**
 * An append-only JSONL file of checkpoints, on its own file descriptor, each line fdatasync'ed
 * before `append` resolves. Put it where the audit log's writer cannot rewrite it unnoticed
 * (another volume, host or account: docs/audit.md); next to the log it only helps against
 * accidents.
 */
export function fileCheckpoints(path: string, options: { readonly mode?: number } = {}): CheckpointStore {
  if (typeof path !== 'string' || path === '')
    throw new WardenTypeError('fileCheckpoints: path must be a file path')
  let fh: Promise<FileHandle> | undefined
  let queue: Promise<void> = Promise.resolve()
  let closed = false
  return {
    append(checkpoint: Checkpoint): Promise<void> {
      if (closed)
        return Promise.reject(
          new WardenError('ERR_WARDEN_AUDIT', `fileCheckpoints ${path}: append after close`),
        )
      const line = `${canonicalObject(checkpoint as unknown as Record<string, unknown>, undefined)}\n`
      // One write at a time, in order, each durable before the next starts.
      const run = queue.then(async () => {
        fh ??= open(path, 'a', options.mode ?? 0o640)
        const h = await fh
        await h.write(line)
        await h.datasync()
      })
      queue = run.catch(() => undefined)
      return run
    },
    async last(): Promise<Checkpoint | undefined> {
      await queue
      let list: Checkpoint[]
      try {
        list = await readCheckpoints(path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw err
      }
      return list[list.length - 1]
    },
    async close(): Promise<void> {
      closed = true
      await queue
      if (fh !== undefined) await (await fh.catch(() => undefined))?.close()
    },
  }
}

/** A minimal pino-like logger. */
interface LineLogger {
  info(obj: object, msg?: string): void
  flush?(cb?: (err?: Error) => void): void
}

/**
 * Sends each checkpoint to a pino logger as `{checkpoint}` (its transport carries it off the host:
 * a SIEM, a log service). `readCheckpoints` reads such a log file back. Resolves after the logger's
 * `flush`, when it has one.
 */
export function pinoCheckpoints(logger: LineLogger, msg = 'warden.checkpoint'): CheckpointStore {
  if (typeof logger?.info !== 'function')
    throw new WardenTypeError('pinoCheckpoints: logger has no info() method')
  const flush = () =>
    new Promise<void>((resolve, reject) => {
      if (typeof logger.flush !== 'function') return resolve()
      logger.flush((err?: Error) => (err ? reject(err) : resolve()))
    })
  return {
    append(checkpoint) {
      logger.info({ checkpoint }, msg)
      return flush()
    },
    close: flush,
  }
}

/**
 * The checkpoints in a file: one JSON checkpoint per line (`fileCheckpoints`), or pino lines that
 * carry one under `checkpoint` (`pinoCheckpoints`); other lines of a pino log are skipped.
 * Throws ERR_WARDEN_AUDIT for a line that is not JSON. Signatures are checked by verifyChain.
 */
export async function readCheckpoints(path: string): Promise<Checkpoint[]> {
  const text = await readFile(path, 'utf8')
  const out: Checkpoint[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    if (line.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      throw new WardenError('ERR_WARDEN_AUDIT', `${path}:${i + 1}: a checkpoint line is not JSON`)
    }
    const v = value as { type?: unknown; checkpoint?: unknown } | null
    if (v?.type === 'checkpoint') out.push(v as unknown as Checkpoint)
    else if ((v?.checkpoint as { type?: unknown } | undefined)?.type === 'checkpoint')
      out.push(v?.checkpoint as Checkpoint)
    else if (v?.checkpoint !== undefined || !('level' in (v ?? {})))
      throw new WardenError('ERR_WARDEN_AUDIT', `${path}:${i + 1}: not a checkpoint`)
  }
  return out
}
