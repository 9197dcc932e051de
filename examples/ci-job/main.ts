// A CI deploy job under Warden: its identity is the CI system's OIDC token (no deploy key, no
// database password in the job), it deploys a release over SSH with a short-lived certificate from
// Warden's SSH CA broker, and records the deployment in a database; every step is decided by the
// policies in ./policies (tested by ./policies/policies_test.yaml) and audited. Run offline:
//   node --conditions=warden-source --import tsx examples/ci-job/main.ts
// (it starts local stand-ins: an identity provider, an sshd deploy host, an embedded PostgreSQL).
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import {
  type AuditRecord,
  type Broker,
  createWarden,
  type Identity,
  jsonlSink,
  memorySink,
  Secret,
  type SecretSource,
  type Session,
  staticBroker,
  verifyChain,
  WardenError,
} from '@warden/core'
import { Pool } from '@warden/drivers/pg'
import { Client as SshClient, sshCaBroker } from '@warden/drivers/ssh'
import { loadPolicy } from '@warden/policy'
import type { SFTPWrapper } from 'ssh2'

const here = dirname(fileURLToPath(import.meta.url))

export interface CiJobConfig {
  /** The job's OIDC token, as the CI system hands it to the job. */
  readonly token: string
  /** Verifies it: jwtIdentity({jwksUrl, issuer, audience}) for your CI's issuer. */
  readonly identity: Identity
  readonly release: { readonly version: string; readonly files: Readonly<Record<string, string>> }
  readonly host: {
    readonly address: string
    readonly port: number
    /** Pinned host key (OpenSSH public key line). */
    readonly hostKey: string
    /** Deploy root on the host (the `root` label policies check uploads against). */
    readonly root: string
    readonly login: string
  }
  /** The SSH CA that deploy hosts trust; held by Warden's broker, never by the job's code. */
  readonly sshCaKey: Secret
  readonly database: {
    readonly host: string
    readonly port: number
    readonly database: string
    readonly user: string
    readonly password: SecretSource
  }
  readonly print?: (line: string) => void
}

export interface CiJobResult {
  readonly ok: boolean
  readonly principal: string
  readonly steps: readonly {
    readonly step: string
    readonly status: 'ok' | 'skipped' | 'failed'
    readonly detail: string
  }[]
  readonly records: readonly AuditRecord[]
  readonly chainValid: boolean
}

/** Routes each lease to the broker for its resource kind. */
function brokerByKind(brokers: Readonly<Record<string, Broker>>): Broker {
  const pick = (kind: string) => {
    const broker = brokers[kind]
    if (broker === undefined) throw new WardenError('ERR_WARDEN_BROKER', `no broker for ${kind} resources`)
    return broker
  }
  return {
    issue: (request) => pick(request.resource.kind).issue(request),
    revoke: async (lease) => {
      await Promise.all(Object.values(brokers).map((b) => b.revoke(lease).catch(() => undefined)))
    },
  }
}

export async function runCiJob(config: CiJobConfig): Promise<CiJobResult> {
  const print = config.print ?? ((line: string) => console.log(line))
  const steps: { step: string; status: 'ok' | 'skipped' | 'failed'; detail: string }[] = []
  const record = (step: string, status: 'ok' | 'skipped' | 'failed', detail: string) => {
    steps.push({ step, status, detail })
    print(`${status === 'ok' ? '✓' : status === 'skipped' ? '–' : '✗'} ${step}: ${detail}`)
  }
  const auditFile = join(mkdtempSync(join(tmpdir(), 'warden-ci-')), 'audit.jsonl')
  const memory = memorySink()
  const warden = createWarden({
    policy: await loadPolicy(join(here, 'policies')),
    identity: config.identity,
    broker: brokerByKind({
      ssh: sshCaBroker({
        caKey: config.sshCaKey,
        principals: { [PRINCIPAL_ID]: { logins: [config.host.login] } },
        ttl: '5m',
        hostKeys: { 'web-1': [config.host.hostKey] },
      }),
      postgres: staticBroker({
        credentials: {
          'postgres:deploydb': {
            type: 'password',
            username: config.database.user,
            password: config.database.password,
          },
        },
      }),
    }),
    audit: [jsonlSink(auditFile), memory],
    resources: { 'ssh:web-1': { labels: { root: config.host.root } } },
  })
  let principal = ''
  let ok = false
  const pool = new Pool(warden, {
    resource: 'deploydb',
    host: config.database.host,
    port: config.database.port,
    database: config.database.database,
    max: 1,
  })
  let ssh: SshClient | undefined
  try {
    let session: Session
    try {
      session = await warden.session({ token: config.token })
    } catch (err) {
      record('identity', 'failed', (err as Error).message)
      return {
        ok: false,
        principal,
        steps,
        records: memory.records,
        chainValid: await settleChain(warden, auditFile),
      }
    }
    principal = session.principal.id
    record('identity', 'ok', `${principal} (${session.principal.claims.ref})`)

    await session.run(async () => {
      const { rows } = await pool.query('SELECT max(version) AS version FROM schema_migrations')
      record('schema check', 'ok', `schema version ${rows[0].version}`)

      ssh = await connectSsh(session, config)
      const { version, files } = config.release
      const dir = `${config.host.root}/releases/${version}`
      await exec(ssh, `mkdir -p ${dir}`)
      const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
        ssh!.sftp((e, s) => (e ? reject(e) : resolve(s))),
      )
      for (const [name, content] of Object.entries(files)) {
        await new Promise<void>((resolve, reject) =>
          sftp.writeFile(`${dir}/${name}`, content, (e) => (e ? reject(e) : resolve())),
        )
      }
      sftp.end()
      await exec(ssh, `ln -sfn ${dir} ${config.host.root}/current`)
      const live = (await exec(ssh, `cat ${config.host.root}/current/VERSION`)).trim()
      record('deploy', 'ok', `${Object.keys(files).length} files to web-1:${dir}, current → ${live}`)

      // Housekeeping the policy does not allow from CI: reported, not fatal.
      try {
        await exec(ssh, `rm -rf ${config.host.root}/releases/old`)
        record('prune old releases', 'ok', 'pruned')
      } catch (err) {
        if (!(err instanceof WardenError && err.code === 'ERR_WARDEN_DENIED')) throw err
        record('prune old releases', 'skipped', err.message)
      }

      await pool.query('INSERT INTO deployments (version, host, deployed_by) VALUES ($1, $2, $3)', [
        version,
        'web-1',
        principal,
      ])
      record('record deployment', 'ok', `deployments += ${version}`)
    })
    ok = true
  } catch (err) {
    record(
      'job',
      'failed',
      err instanceof WardenError ? `[${err.code}] ${err.message}` : (err as Error).message,
    )
  } finally {
    ;(ssh as SshClient | undefined)?.end()
    await pool.end().catch(() => undefined)
  }
  const chainValid = await settleChain(warden, auditFile)
  print(`audit: ${auditFile} (hash chain ${chainValid ? 'verified' : 'BROKEN'})`)
  return { ok, principal, steps, records: memory.records, chainValid }
}

// The principal id the CI's token carries for this job (sshCaBroker maps it to a login).
export const PRINCIPAL_ID = 'ci:acme/web'

async function settleChain(warden: { close(): Promise<void> }, file: string): Promise<boolean> {
  await warden.close()
  return (await verifyChain(file)).ok
}

function connectSsh(session: Session, config: CiJobConfig): Promise<SshClient> {
  const client = new SshClient(session)
  return new Promise((resolve, reject) => {
    client.once('ready', () => resolve(client)).once('error', reject)
    client.connect({
      host: config.host.address,
      port: config.host.port,
      resource: 'web-1',
      recordings: false,
    })
  })
}

/** Runs a command; rejects on a Warden refusal or a non-zero exit. */
function exec(client: SshClient, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) => {
      if (err) return reject(err)
      let out = ''
      let code: number | undefined
      channel.on('data', (d: Buffer) => {
        out += d
      })
      channel.stderr.on('data', () => {})
      channel.on('exit', (c: number) => {
        code = c
      })
      channel.on('close', () =>
        code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}`)),
      )
    })
  })
}

/** Offline run: local stand-ins for the CI's identity provider, the deploy host and the database. */
async function main(): Promise<number> {
  const { testIdentity } = await import('@warden/core/testing')
  const { jwtIdentity } = await import('@warden/core')
  const { startLocalSshd, DEPLOY_LOGIN } = await import('./local-sshd.js')
  const { startEmbeddedPostgres } = await import('@warden/cli')
  const idp = await testIdentity({ issuer: 'https://ci.example.test', audience: 'warden' })
  const jwks = await idp.serve()
  const sshd = await startLocalSshd()
  const db = await startEmbeddedPostgres()
  const root = `/tmp/warden-ci-${randomUUID()}`
  try {
    await db.exec(DEPLOY_DB)
    // what the CI system hands the job: a signed token naming the repository and branch
    const token = await idp.token({
      sub: PRINCIPAL_ID,
      type: 'workload',
      groups: ['deployers'],
      claims: { ref: process.env.CI_REF ?? 'refs/heads/main' },
    })
    const version = `v${Date.now()}`
    const result = await runCiJob({
      token,
      identity: jwtIdentity({ jwksUrl: jwks.url, issuer: idp.issuer, audience: idp.audience }),
      release: { version, files: { VERSION: `${version}\n`, 'app.js': 'console.log("hello")\n' } },
      host: { address: '127.0.0.1', port: sshd.port, hostKey: sshd.hostKey, root, login: DEPLOY_LOGIN },
      sshCaKey: new Secret(sshd.caKey),
      // in CI: password: { env: 'DEPLOYDB_PASSWORD' }, read by the broker, never by the job
      database: {
        host: db.host,
        port: db.port,
        database: 'postgres',
        user: 'postgres',
        password: 'postgres',
      },
    })
    return result.ok ? 0 : 1
  } finally {
    rmSync(root, { recursive: true, force: true })
    await sshd.stop()
    await db.stop()
    await jwks.close()
  }
}

export const DEPLOY_DB = `
CREATE TABLE schema_migrations (version int PRIMARY KEY);
INSERT INTO schema_migrations VALUES (1), (2), (3);
CREATE TABLE deployments (id serial PRIMARY KEY, version text NOT NULL, host text NOT NULL, deployed_by text NOT NULL, at timestamptz NOT NULL DEFAULT now());
`

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => {
      process.exitCode = code
    },
    (err) => {
      console.error(err)
      process.exitCode = 1
    },
  )
}
