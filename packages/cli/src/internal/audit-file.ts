import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import type { AuditRecord } from '@warden/core'
import { CliError } from './cli-error.js'

export interface AuditLine {
  readonly line: number
  readonly record: AuditRecord
}

/** Streams the records of a JSONL audit file (as written by jsonlSink), one per line. */
export async function* readAuditFile(file: string): AsyncGenerator<AuditLine> {
  try {
    const info = await stat(file)
    if (!info.isFile()) throw new Error('not a file')
  } catch (error) {
    throw new CliError(`cannot read audit file ${file}: ${(error as Error).message}`, 2)
  }
  const lines = createInterface({
    input: createReadStream(file, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  })
  let line = 0
  for await (const text of lines) {
    line++
    if (text.trim() === '') continue
    let record: unknown
    try {
      record = JSON.parse(text)
    } catch {
      throw new CliError(`${file}:${line}: not a JSON audit record`, 2)
    }
    if (record === null || typeof record !== 'object' || (record as { v?: unknown }).v !== 1) {
      throw new CliError(`${file}:${line}: not a version 1 audit record`, 2)
    }
    yield { line, record: record as AuditRecord }
  }
}
