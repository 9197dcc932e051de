import { WardenTypeError } from '@warden/policy'
import type { Logger } from 'pino'
import type { AuditEntry } from './audit-record.js'
import type { AuditSink } from './audit-sink.js'

export interface PinoSinkOptions {
  /**
   * Log level of audit lines (default `info`). Denials and refusals (a `deny` decision, an outcome
   * `denied`/`rejected`/`expired`, `session.refused`) go at `warn`, failed commands (outcome
   * `error`) at `error`, never below this level.
   */
  readonly level?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'
  /** Message of every audit line (default `warden.audit`). */
  readonly msg?: string
}

const RANK = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 } as const
type Level = keyof typeof RANK

/** The level an entry is worth on its own: `error` for a failed command, `warn` for a refusal. */
function entryLevel(record: Readonly<AuditEntry>): Level | undefined {
  const status = (record as { outcome?: { status?: string } }).outcome?.status
  if (status === 'error') return 'error'
  if (status === 'denied' || status === 'rejected' || status === 'expired') return 'warn'
  if (record.type === 'session.refused') return 'warn'
  if ((record as { decision?: { effect?: string } }).decision?.effect === 'deny') return 'warn'
  return undefined
}

/**
 * Sends each audit record to a pino logger as `{audit: record}`, so any pino transport (files,
 * syslog, Datadog, Splunk, OpenTelemetry...) carries it. pino owns buffering and the I/O (in a
 * worker for transports); `flush()` waits for its destination. `verifyChain(file, {format: 'pino'})`
 * and `warden audit verify --pino` check the chain from the log file (docs/audit.md).
 */
export function pinoSink(logger: Logger, options: PinoSinkOptions = {}): AuditSink {
  const level = options.level ?? 'info'
  const msg = options.msg ?? 'warden.audit'
  for (const l of [level, 'warn', 'error'] as const)
    if (typeof logger?.[l] !== 'function') throw new WardenTypeError(`pinoSink: logger has no ${l}() method`)
  // A level the logger drops would lose records silently (and break the chain): refuse it.
  if (logger.isLevelEnabled?.(level) === false)
    throw new WardenTypeError(
      `pinoSink: the logger's level (${logger.level}) drops ${level} lines: audit records would be lost; lower the logger's level or raise pinoSink's`,
    )
  let failure: Error | undefined
  const flush = () =>
    new Promise<void>((resolve, reject) => {
      if (failure) return reject(failure)
      if (typeof logger.flush !== 'function') return resolve()
      logger.flush((err?: Error) => {
        if (!err) return resolve()
        failure = err
        reject(err)
      })
    })
  return {
    write(_line: string, record: Readonly<AuditEntry>): boolean {
      if (failure) throw failure
      try {
        const own = entryLevel(record)
        logger[own !== undefined && RANK[own] > RANK[level] ? own : level]({ audit: record }, msg)
      } catch (err) {
        failure = err as Error
        throw err
      }
      return true
    },
    flush,
    close: flush,
    failure: () => failure,
  }
}
