import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import type { AuditRecord } from '@warden/core'
import { CliError } from './cli-error.js'
import { STDIN } from './stdin.js'

export interface AuditLine {
  readonly file: string
  readonly line: number
  readonly record: AuditRecord
}

/**
 * Streams the records of JSONL audit files (as written by jsonlSink; rotated segments in order,
 * oldest first), one per line: command, outcome, repair and session records alike.
 */
export async function* readAuditFile(
  files: string | readonly string[],
  options: ReadAuditOptions = {},
): AsyncGenerator<AuditLine> {
  for (const file of typeof files === 'string' ? [files] : files) yield* readOne(file, options)
}

export interface ReadAuditOptions {
  /**
   * A last line that is not JSON (a write cut short by a crash, not yet repaired by a sink
   * reopening the log) goes here instead of failing the read.
   */
  readonly onTorn?: (file: string, line: number, chars: number) => void
}

async function* readOne(file: string, options: ReadAuditOptions): AsyncGenerator<AuditLine> {
  // "-": the log on stdin
  if (file !== STDIN) {
    try {
      const info = await stat(file)
      if (!info.isFile()) throw new Error('not a file')
    } catch (error) {
      throw new CliError(`cannot read audit file ${file}: ${(error as Error).message}`, 2)
    }
  }
  const lines = createInterface({
    input: file === STDIN ? process.stdin.setEncoding('utf8') : createReadStream(file, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  })
  let line = 0
  let torn: { line: number; chars: number } | undefined
  const notJson = (at: number) => new CliError(`${file}:${at}: not a JSON audit record`, 2)
  for await (const text of lines) {
    line++
    if (torn !== undefined) throw notJson(torn.line)
    if (text.trim() === '') continue
    let record: unknown
    try {
      record = JSON.parse(text)
    } catch {
      if (options.onTorn === undefined) throw notJson(line)
      torn = { line, chars: text.length }
      continue
    }
    if (record === null || typeof record !== 'object' || (record as { v?: unknown }).v !== 1) {
      throw new CliError(`${file}:${line}: not a version 1 audit record`, 2)
    }
    yield { file, line, record: record as AuditRecord }
  }
  if (torn !== undefined) options.onTorn?.(file, torn.line, torn.chars)
}
