#!/usr/bin/env node
import { runCli } from './cli.js'

// Set exitCode rather than calling process.exit(), so stdout drains when piped; commands that
// keep running (approvals serve) resolve only when they are stopped.
runCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`warden: ${(error as Error)?.message ?? String(error)}\n`)
    process.exitCode = 2
  },
)
