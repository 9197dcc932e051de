import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ApprovalRequest, generateCheckpointKeys } from '@warden/core'
import { vi } from 'vitest'

export const REPO = fileURLToPath(new URL('../../../', import.meta.url))
const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url))

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `warden <args>` as a real subprocess (from source, through tsx), stdout/stderr piped. */
export function runWarden(
  args: readonly string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<CliResult> {
  const childEnv: Record<string, string | undefined> = {
    ...process.env,
    WARDEN_INBOX_SIGNING_KEY: INBOX_KEYS.privateKey,
    ...env,
  }
  for (const name of ['FORCE_COLOR', 'NO_COLOR']) if (!(name in env)) delete childEnv[name]
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=warden-source', '--import', 'tsx', BIN, ...args], {
      cwd: REPO,
      env: childEnv,
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input ?? '')
  })
}

export function tempDir(name: string): {
  dir: string
  write(file: string, text: string): string
  remove(): void
} {
  const dir = mkdtempSync(join(tmpdir(), `warden-cli-${name}-`))
  return {
    dir,
    write(file, text) {
      const path = join(dir, file)
      writeFileSync(path, text)
      return path
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}

export const REDIS_URL = 'redis://127.0.0.1:6379'

/**
 * Agents' SQL writes wait for a human from group "dba", or alice, bob or carol by name (held in the
 * shared approval store). The names are for the shared-secret inbox: a shared secret proves no
 * group membership, so there only reviewers the rule names count.
 */
export const APPROVAL_POLICY = `
defaults: { effect: deny }
rules:
  - name: agent-writes
    when: 'principal.type == "agent" && sql.write'
    effect: approve
    reason: agents need a human for writes
    approval: { approvers: [dba, alice, bob, carol], timeout: 2m }
`

/** The inbox's decision-signing key pair (applications trust the public half). */
export const INBOX_KEYS = generateCheckpointKeys()
/** redisApprovals options for an application instance that waits on the inbox's decisions. */
export const WAITING = { trustedKeys: [INBOX_KEYS.publicKey] }
/** redisApprovals options for a store that both waits and decides (an in-process inbox in tests). */
export const SIGNED = { ...WAITING, signingKey: INBOX_KEYS.privateKey }

/** A key prefix of its own per test file run, so parallel files never see each other's requests. */
export const uniquePrefix = (name: string) =>
  `warden-cli-test:${name}:${process.pid}:${Math.random().toString(36).slice(2, 8)}:`

/** Starts `warden approvals serve` as a real subprocess; resolves with its URL once it listens. */
export function serveInbox(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<{ url: string; output: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    ['--conditions=warden-source', '--import', 'tsx', BIN, 'approvals', 'serve', ...args],
    {
      cwd: REPO,
      env: { ...process.env, WARDEN_INBOX_SIGNING_KEY: INBOX_KEYS.privateKey, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8')
      const match = /approvals inbox on (http:\/\/\S+)/.exec(out)
      if (match) {
        resolve({
          url: match[1],
          output: () => out,
          stop: async () => {
            child.kill('SIGTERM')
            return exited
          },
        })
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')))
    exited.then((code) => reject(new Error(`approvals serve exited ${code} before listening:\n${out}`)))
  })
}

/**
 * Per-test bound for tests that start several `warden` subprocesses (each loads TypeScript
 * sources through tsx): generous, so a loaded CI machine does not turn into failures.
 */
export const SUBPROCESS_TIMEOUT = 120_000

/** The approval request for `command` once it is pending in `store` (a held command, asked from another process). */
export async function pendingRequest(
  store: { pending(): Promise<readonly { request: ApprovalRequest }[]> },
  command: string,
): Promise<ApprovalRequest> {
  return vi.waitFor(
    async () => {
      const found = (await store.pending()).find((r) => r.request.command === command)
      if (!found) throw new Error('not pending yet')
      return found.request
    },
    { timeout: 10_000, interval: 50 },
  )
}
