import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { promisify } from 'node:util'
import { type EmbeddedPostgres, startEmbeddedPostgres } from '@warden/cli'
import { jwtIdentity, Secret } from '@warden/core'
import { type TestIdentity, testIdentity } from '@warden/core/testing'
import { runPolicyTests } from '@warden/policy'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEPLOY_LOGIN, type LocalSshd, startLocalSshd } from '../../examples/ci-job/local-sshd.js'
import { type CiJobConfig, DEPLOY_DB, PRINCIPAL_ID, runCiJob } from '../../examples/ci-job/main.js'

let idp: TestIdentity
let jwks: { url: string; close(): Promise<void> }
let sshd: LocalSshd
let db: EmbeddedPostgres
const roots: string[] = []

beforeAll(async () => {
  idp = await testIdentity({ issuer: 'https://ci.example.test', audience: 'warden' })
  jwks = await idp.serve()
  sshd = await startLocalSshd()
  db = await startEmbeddedPostgres()
  await db.exec(DEPLOY_DB)
})
afterAll(async () => {
  for (const r of roots) rmSync(r, { recursive: true, force: true })
  await sshd?.stop()
  await db?.stop()
  await jwks?.close()
})

async function config(token: string, version: string): Promise<CiJobConfig> {
  const root = `/tmp/warden-ci-test-${randomUUID()}`
  roots.push(root)
  return {
    token,
    identity: jwtIdentity({ jwksUrl: jwks.url, issuer: idp.issuer, audience: idp.audience }),
    release: { version, files: { VERSION: `${version}\n`, 'app.js': 'console.log(1)\n' } },
    host: { address: '127.0.0.1', port: sshd.port, hostKey: sshd.hostKey, root, login: DEPLOY_LOGIN },
    sshCaKey: new Secret(sshd.caKey),
    database: { host: db.host, port: db.port, database: 'postgres', user: 'postgres', password: 'postgres' },
    print: () => {},
  }
}

async function deployments(): Promise<{ version: string; deployed_by: string }[]> {
  const client = new pg.Client({
    host: db.host,
    port: db.port,
    database: 'postgres',
    user: 'postgres',
    password: 'postgres',
  })
  await client.connect()
  try {
    return (await client.query('SELECT version, deployed_by FROM deployments ORDER BY id')).rows
  } finally {
    await client.end()
  }
}

describe('examples/ci-job', () => {
  it('its policies pass their own tests', async () => {
    const report = await runPolicyTests('examples/ci-job/policies')
    expect(report.failed).toBe(0)
    expect(report.passed).toBeGreaterThanOrEqual(11)
  })

  it('a main-branch token deploys over SSH and records the deployment; the prune step is refused, not fatal', async () => {
    const token = await idp.token({
      sub: PRINCIPAL_ID,
      type: 'workload',
      groups: ['deployers'],
      claims: { ref: 'refs/heads/main' },
    })
    const c = await config(token, 'v100')
    const result = await runCiJob(c)
    expect(result.steps.map((s) => [s.step, s.status])).toEqual([
      ['identity', 'ok'],
      ['schema check', 'ok'],
      ['deploy', 'ok'],
      ['prune old releases', 'skipped'],
      ['record deployment', 'ok'],
    ])
    expect(result.ok).toBe(true)
    expect(result.principal).toBe(PRINCIPAL_ID)
    // on the host, as the deploy login, through the guarded client
    expect(readFileSync(`${c.host.root}/current/VERSION`, 'utf8')).toBe('v100\n')
    expect(await deployments()).toContainEqual({ version: 'v100', deployed_by: PRINCIPAL_ID })
    const commands = result.records.filter((r) => r.type === 'command')
    expect(commands.map((r) => [r.action, r.decision?.rule, r.outcome?.status])).toEqual([
      ['sql.query', 'ci-reads', 'ok'],
      ['ssh.exec', 'deploy-commands', 'ok'],
      ['sftp.write', 'upload-releases', 'ok'],
      ['sftp.write', 'upload-releases', 'ok'],
      ['ssh.exec', 'deploy-commands', 'ok'],
      ['ssh.exec', 'deploy-commands', 'ok'],
      ['ssh.exec', 'no-deletes-on-hosts', 'denied'],
      ['sql.query', 'record-deployments', 'ok'],
    ])
    expect(commands.every((r) => r.principal.id === PRINCIPAL_ID)).toBe(true)
    // neither the CA key nor the token is anywhere in the audit trail
    const trail = JSON.stringify(result.records)
    expect(trail).not.toContain(sshd.caKey.split('\n')[1])
    expect(trail).not.toContain(token)
    expect(result.chainValid).toBe(true)
  })

  it('a feature-branch token cannot deploy: the job fails at the first command, nothing changes', async () => {
    const token = await idp.token({
      sub: PRINCIPAL_ID,
      type: 'workload',
      groups: ['deployers'],
      claims: { ref: 'refs/heads/feature-x' },
    })
    const c = await config(token, 'v200')
    const result = await runCiJob(c)
    expect(result.ok).toBe(false)
    expect(result.steps.at(-1)).toMatchObject({
      step: 'job',
      status: 'failed',
      detail: expect.stringContaining('ERR_WARDEN_DENIED'),
    })
    expect(existsSync(`${c.host.root}/releases`)).toBe(false)
    expect((await deployments()).map((d) => d.version)).not.toContain('v200')
  })

  it('a forged token opens no session', async () => {
    const token = await idp.token({
      sub: PRINCIPAL_ID,
      groups: ['deployers'],
      claims: { ref: 'refs/heads/main' },
      forged: true,
    })
    const result = await runCiJob(await config(token, 'v300'))
    expect(result.ok).toBe(false)
    expect(result.steps).toEqual([
      { step: 'identity', status: 'failed', detail: expect.stringContaining('token refused') },
    ])
    expect(result.records.filter((r) => r.type === 'command')).toHaveLength(0)
    expect(result.records.map((r) => r.type)).toContain('session.refused')
  })

  it('runs as documented from the command line: deploys from main (exit 0), refused from a feature branch (exit 1)', async () => {
    const run = (env: Record<string, string>) =>
      promisify(execFile)(
        process.execPath,
        ['--conditions=warden-source', '--import', 'tsx', 'examples/ci-job/main.ts'],
        { cwd: new URL('../..', import.meta.url), timeout: 90_000, env: { ...process.env, ...env } },
      ).then(
        (r) => ({ code: 0, stdout: r.stdout }),
        (e: { code?: number; stdout?: string }) => ({ code: e.code, stdout: e.stdout ?? '' }),
      )
    const ok = await run({})
    expect(ok.code, ok.stdout).toBe(0)
    const refused = await run({ CI_REF: 'refs/heads/feature-x' })
    expect(refused.code).toBe(1)
    expect(refused.stdout).toContain('ERR_WARDEN_DENIED')
  }, 180_000)
})
