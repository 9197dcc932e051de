import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** `-` in place of a file name means standard input, in every command that reads a file. */
export const STDIN = '-'

let read: Promise<string> | undefined

/** All of standard input as text; read once, so two `-` arguments see the same text. */
export function readStdin(): Promise<string> {
  read ??= (async () => {
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString('utf8')
  })()
  return read
}

/** Standard input copied to a temporary file, for readers that take paths (verifyChain). */
export async function spoolStdin(name: string): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'warden-stdin-'))
  const path = join(dir, name)
  await writeFile(path, await readStdin(), { mode: 0o600 })
  return { path, remove: () => rm(dir, { recursive: true, force: true }) }
}
