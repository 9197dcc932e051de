import { WardenTypeError } from '@warden/policy'
import type { Logger } from 'pino'
import type { AuditRecord } from './audit-record.js'
import type { AuditSink } from './audit-sink.js'

export interface PinoSinkOptions {
  /** Log level of audit lines (default `info`). */
  readonly level?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal'
  /** Message of every audit line (default `warden.audit`). */
  readonly msg?: string
}

/**
 * Sends each audit record to a pino logger as `{audit: record}`, so any pino transport (files,
 * syslog, Datadog, Splunk, OpenTelemetry...) carries it. pino owns buffering and the I/O (in a
 * worker for transports); `flush()` waits for its destination.
 */
export function pinoSink(logger: Logger, options: PinoSinkOptions = {}): AuditSink {
  const level = options.level ?? 'info'
  const msg = options.msg ?? 'warden.audit'
  if (typeof logger?.[level] !== 'function')
    throw new WardenTypeError(`pinoSink: logger has no ${level}() method`)
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
    write(_line: string, record: Readonly<AuditRecord>): boolean {
      if (failure) throw failure
      try {
        logger[level]({ audit: record }, msg)
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
