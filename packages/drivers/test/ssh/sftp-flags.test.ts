// SFTP open flags and handle operations through the guarded Client against a real OpenSSH sshd
// (internal-sftp): what is decided, and what the server then did (or did not do) on disk.
// `ro/` may be read, `rw/` may also be written; files are owned by the login account, so a refusal
// on disk is the guard's, never the server's permissions.
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { inspect } from 'node:util'
import {
  type Broker,
  createWarden,
  type Lease,
  memorySink,
  revealSecret,
  Secret,
  type Session,
  type Warden,
} from '@warden/core'
import { Client, sshCaBroker } from '@warden/drivers/ssh'
import { compilePolicy } from '@warden/policy'
import type { SFTPWrapper } from 'ssh2'
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest'
import { LOGIN, startSshd, type TestSshd } from './sshd.js'

const POLICY = `
defaults: { effect: deny }
rules:
  - name: read-tree
    when: 'action == "sftp.read" && sftp.path.startsWith(principal.claims.root + "/")'
    effect: allow
  - name: write-rw
    when: 'action == "sftp.write" && sftp.path.startsWith(principal.claims.root + "/rw/")'
    effect: allow
`
const READ = 1
const WRITE = 2
const CREAT = 8
const TRUNC = 16

let sshd: TestSshd
let warden: Warden
let session: Session
let audit: ReturnType<typeof memorySink>
let sftp: SFTPWrapper
let client: Client
const root = `/tmp/warden-sftp-flags-${process.pid}`
const ro = `${root}/ro`
const rw = `${root}/rw`
let owner: { uid: number; gid: number }
const leases: Lease[] = []
const errors: unknown[] = []

type Cb<T> = (err: Error | null | undefined, value?: T) => void
/** Every error a call ends with is kept, so the last test can prove none carries key material. */
const call = <T>(fn: (cb: Cb<T>) => void) =>
  new Promise<T>((resolve, reject) =>
    fn((err, value) => {
      if (err) errors.push(err)
      return err ? reject(err) : resolve(value as T)
    }),
  )

/** A file owned by the login account, mode 0644, with `content`. */
function seed(file: string, content = 'keep'): void {
  writeFileSync(file, content)
  chownSync(file, owner.uid, owner.gid)
}

beforeAll(async () => {
  sshd = await startSshd()
  owner = statSync(`/home/${LOGIN}`)
  for (const dir of [root, ro, rw]) {
    mkdirSync(dir, { recursive: true })
    chownSync(dir, owner.uid, owner.gid)
  }
  const ca = sshCaBroker({
    caKey: new Secret(sshd.caKey),
    principals: { deployer: { logins: [LOGIN] } },
    ttl: '5m',
    hostKeys: { 'files-1': [sshd.hostKey] },
  })
  audit = memorySink()
  // Keeps the issued leases so the last test can look for their private keys in every record and error.
  const broker: Broker = {
    issue: async (request) => {
      const lease = await ca.issue(request)
      leases.push(lease)
      return lease
    },
    revoke: (lease) => ca.revoke(lease),
  }
  warden = createWarden({ policy: compilePolicy(POLICY), broker, audit })
  session = await warden.session({ principal: { id: 'deployer', type: 'service', claims: { root } } })
  client = new Client(session)
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve()).once('error', reject)
    client.connect({ host: '127.0.0.1', port: sshd.port, resource: 'files-1' })
  })
  sftp = await call<SFTPWrapper>((cb) => client.sftp(cb as never))
})

afterAll(async () => {
  client?.end()
  await warden?.close()
  await sshd?.stop()
  rmSync(root, { recursive: true, force: true })
})

beforeEach(() => audit.clear())

const last = () => audit.records.at(-1)

describe('open flags', () => {
  // Every combination of the six SFTP pflags bits, on an existing file and on a missing one.
  const all = Array.from({ length: 64 }, (_, flags) => flags)

  test.each(all)('open(existing, %i) under a read-only rule: a read only for READ alone', async (flags) => {
    const file = `${ro}/existing-${flags}`
    seed(file)
    const before = statSync(file)
    const opened = call<Buffer>((cb) => sftp.open(file, flags, cb as never))
    if ((flags & ~READ) === 0) {
      const handle = await opened
      expect(last()).toMatchObject({
        action: 'sftp.read',
        facts: { op: 'read', path: file },
        outcome: { status: 'ok' },
      })
      await call((cb) => sftp.close(handle, cb))
    } else {
      await expect(opened).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED' })
      expect(last()).toMatchObject({
        action: 'sftp.write',
        facts: { op: 'write', path: file },
        outcome: { status: 'denied' },
      })
    }
    // Whatever was asked, nothing on disk changed.
    expect(readFileSync(file, 'utf8')).toBe('keep')
    expect(statSync(file).mtimeMs).toBe(before.mtimeMs)
  })

  test.each(all)('open(missing, %i) under a read-only rule creates nothing', async (flags) => {
    const file = `${ro}/missing-${flags}`
    const opened = call<Buffer>((cb) => sftp.open(file, flags, cb as never))
    if ((flags & ~READ) === 0)
      await expect(opened).rejects.toMatchObject({ code: 2 }) // SFTP no such file
    else await expect(opened).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    expect(existsSync(file)).toBe(false)
  })

  test('where writes are allowed, the bits without WRITE really change files (so they must be writes)', async () => {
    const truncated = `${rw}/trunc-only`
    seed(truncated, 'log line')
    await call<Buffer>((cb) => sftp.open(truncated, TRUNC, cb as never)).then((h) =>
      call((cb) => sftp.close(h, cb)),
    )
    expect(readFileSync(truncated, 'utf8')).toBe('')
    const created = `${rw}/creat-only`
    await call<Buffer>((cb) => sftp.open(created, CREAT, cb as never)).then((h) =>
      call((cb) => sftp.close(h, cb)),
    )
    expect(existsSync(created)).toBe(true)
    expect(audit.filter({ action: 'sftp.write', outcome: { status: 'ok' } }).map((r) => r.facts)).toEqual([
      { op: 'write', path: truncated },
      { op: 'write', path: created },
    ])
  })

  const STRINGS: Record<string, boolean> = {
    r: false,
    'r+': true,
    w: true,
    wx: true,
    xw: true,
    'w+': true,
    'wx+': true,
    'xw+': true,
    a: true,
    ax: true,
    xa: true,
    'a+': true,
    'ax+': true,
    'xa+': true,
  }
  test.each(Object.entries(STRINGS))('open(existing, %j): a write: %s', async (flags, writes) => {
    const file = `${ro}/string-${flags}`
    seed(file)
    const opened = call<Buffer>((cb) => sftp.open(file, flags as never, cb as never))
    if (writes) await expect(opened).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED' })
    else {
      const handle = await opened
      await call((cb) => sftp.close(handle, cb))
    }
    expect(readFileSync(file, 'utf8')).toBe('keep')
  })

  test.each([
    'toString',
    'constructor',
    'rw',
    '',
    -1,
    1.5,
    2 ** 32,
    Number.NaN,
    undefined,
    null,
    { valueOf: () => 1 },
  ])(
    'flags %j ssh2 would not map exactly are refused and audited, even where writes are allowed; nothing is sent',
    async (flags) => {
      // rw/ allows writes: the refusal is the guard's (warden:sftp-flags), decided before policy.
      const file = `${rw}/odd-flags`
      await expect(
        call((cb) => sftp.open(`${rw}/./odd-flags`, flags as never, cb as never)),
      ).rejects.toMatchObject({
        code: 'ERR_WARDEN_DENIED',
        rule: 'warden:sftp-flags',
        message: expect.stringContaining('open flags must be'),
      })
      expect(audit.records).toHaveLength(1)
      expect(last()).toMatchObject({
        action: 'sftp.write',
        facts: { op: 'write', path: file },
        decision: { effect: 'deny', rule: 'warden:sftp-flags' },
        outcome: { status: 'denied' },
      })
      expect(existsSync(file)).toBe(false)
    },
  )

  test('readFile and read/write streams with flags ssh2 would not map are refused and audited', async () => {
    const file = `${rw}/odd-stream`
    seed(file)
    await expect(
      call((cb) => sftp.readFile(file, { flag: 'rw' } as never, cb as never)),
    ).rejects.toMatchObject({
      rule: 'warden:sftp-flags',
    })
    const reader = sftp.createReadStream(file, { flags: 'toString' } as never)
    await expect(
      new Promise((resolve, reject) => reader.on('error', reject).on('end', resolve).resume()),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED', rule: 'warden:sftp-flags' })
    const writer = sftp.createWriteStream(file, { flags: 2 ** 32 } as never)
    await expect(
      new Promise((resolve, reject) => writer.on('error', reject).on('close', resolve).end('overwritten')),
    ).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED', rule: 'warden:sftp-flags' })
    expect(audit.records.map((r) => [r.decision?.rule, r.outcome?.status, r.facts])).toEqual([
      ['warden:sftp-flags', 'denied', { op: 'write', path: file }],
      ['warden:sftp-flags', 'denied', { op: 'write', path: file }],
      ['warden:sftp-flags', 'denied', { op: 'write', path: file }],
    ])
    expect(readFileSync(file, 'utf8')).toBe('keep')
  })
})

describe('readFile, createReadStream, createWriteStream', () => {
  test('readFile with a write flag is a write: refused, file intact', async () => {
    const file = `${ro}/readfile`
    seed(file)
    for (const flag of ['w', 'a', 'r+', 'w+']) {
      await expect(call((cb) => sftp.readFile(file, { flag } as never, cb as never))).rejects.toMatchObject({
        code: 'ERR_WARDEN_DENIED',
      })
      expect(last()).toMatchObject({ action: 'sftp.write', facts: { op: 'write', path: file } })
    }
    expect(readFileSync(file, 'utf8')).toBe('keep')
    expect(String(await call((cb) => sftp.readFile(file, cb as never)))).toBe('keep')
    expect(await call((cb) => sftp.readFile(file, 'utf8', cb as never))).toBe('keep')
    expect(String(await call((cb) => sftp.readFile(file, { flag: 'r' } as never, cb as never)))).toBe('keep')
    expect(last()).toMatchObject({ action: 'sftp.read', outcome: { status: 'ok' } })
  })

  test('a flag getter cannot answer "r" to the guard and "w" to ssh2', async () => {
    const file = `${ro}/toctou`
    seed(file)
    let reads = 0
    const options = {
      get flag() {
        return reads++ === 0 ? 'r' : 'w'
      },
      get flags() {
        return reads++ === 0 ? 'r' : 'w'
      },
    }
    expect(String(await call((cb) => sftp.readFile(file, options as never, cb as never)))).toBe('keep')
    reads = 0
    const chunks: Buffer[] = []
    await new Promise((resolve, reject) =>
      sftp
        .createReadStream(file, options as never)
        .on('data', (c: Buffer) => chunks.push(c))
        .on('end', resolve)
        .on('error', reject),
    )
    expect(Buffer.concat(chunks).toString()).toBe('keep')
    expect(readFileSync(file, 'utf8')).toBe('keep')
  })

  test('createReadStream with write flags is a write: refused, file intact', async () => {
    const file = `${ro}/stream`
    seed(file)
    for (const flags of ['w', 'a', 'r+', TRUNC, CREAT | READ]) {
      const stream = sftp.createReadStream(file, { flags } as never)
      await expect(
        new Promise((resolve, reject) => stream.on('error', reject).on('end', resolve).resume()),
      ).rejects.toMatchObject({
        code: 'ERR_WARDEN_DENIED',
      })
      expect(last()).toMatchObject({
        action: 'sftp.write',
        facts: { op: 'write', path: file },
        outcome: { status: 'denied' },
      })
    }
    expect(readFileSync(file, 'utf8')).toBe('keep')
  })

  test('createWriteStream is a write even with flags "r"; allowed where writes are', async () => {
    const file = `${ro}/wstream`
    seed(file)
    const denied = sftp.createWriteStream(file, { flags: 'r' } as never)
    await expect(
      new Promise((resolve, reject) => denied.on('error', reject).on('close', resolve).end('x')),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
    })
    // A write stream writes whatever it opens with: decided as a write.
    expect(readFileSync(file, 'utf8')).toBe('keep')
    const allowed = `${rw}/wstream`
    const stream = sftp.createWriteStream(allowed)
    await new Promise((resolve, reject) => stream.on('error', reject).on('close', resolve).end('written'))
    expect(readFileSync(allowed, 'utf8')).toBe('written')
  })
})

describe('handle operations', () => {
  const open = (file: string, flags: number | string) =>
    call<Buffer>((cb) => sftp.open(file, flags as never, cb as never))
  const when = new Date('2001-02-03T04:05:06Z')

  test('on a handle opened for read, every state change is decided as a write and refused: nothing changes', async () => {
    const file = `${ro}/handle-ops`
    seed(file)
    const before = statSync(file)
    const handle = await open(file, READ)
    const attempts: [string, (cb: Cb<unknown>) => void][] = [
      ['fchmod', (cb) => sftp.fchmod(handle, 0o777, cb)],
      ['futimes', (cb) => sftp.futimes(handle, when, when, cb)],
      ['fsetstat', (cb) => sftp.fsetstat(handle, { mode: 0o600, mtime: when, atime: when }, cb)],
      ['fchown', (cb) => sftp.fchown(handle, owner.uid, owner.gid, cb)],
      ['write', (cb) => sftp.write(handle, Buffer.from('pwned'), 0, 5, 0, cb as never)],
      [
        'writeData',
        (cb) =>
          (sftp as unknown as { writeData: typeof sftp.write }).writeData(
            handle,
            Buffer.from('pwned'),
            0,
            5,
            0,
            cb as never,
          ),
      ],
    ]
    for (const [name, attempt] of attempts) {
      audit.clear()
      await expect(call(attempt), name).rejects.toMatchObject({ code: 'ERR_WARDEN_DENIED' })
      expect(audit.records, name).toMatchObject([
        { action: 'sftp.write', facts: { op: 'write', path: file }, outcome: { status: 'denied' } },
      ])
    }
    // Reads through the handle belong to the open that was decided: no new decision.
    audit.clear()
    const buffer = Buffer.alloc(4)
    expect(await call((cb) => sftp.read(handle, buffer, 0, 4, 0, cb as never))).toBe(4)
    expect(buffer.toString()).toBe('keep')
    expect(await call<{ size: number }>((cb) => sftp.fstat(handle, cb as never))).toMatchObject({ size: 4 })
    expect(audit.records).toHaveLength(0)
    await call((cb) => sftp.close(handle, cb))
    const after = statSync(file)
    expect([after.mode, after.mtimeMs, after.uid, readFileSync(file, 'utf8')]).toEqual([
      before.mode,
      before.mtimeMs,
      before.uid,
      'keep',
    ])
  })

  test('where writes are allowed they are decided, audited, and happen', async () => {
    const file = `${rw}/handle-ops`
    seed(file)
    const handle = await open(file, READ)
    await call((cb) => sftp.fchmod(handle, 0o600, cb))
    await call((cb) => sftp.futimes(handle, when, when, cb))
    expect(audit.filter({ action: 'sftp.write' }).map((r) => [r.facts, r.outcome?.status])).toEqual([
      [{ op: 'write', path: file }, 'ok'],
      [{ op: 'write', path: file }, 'ok'],
    ])
    const stat = statSync(file)
    expect(stat.mode & 0o777).toBe(0o600)
    expect(stat.mtimeMs).toBe(when.getTime())
    // The write is allowed; the server refuses it on a read-only handle (its own enforcement).
    const refused = await call((cb) => sftp.write(handle, Buffer.from('x'), 0, 1, 0, cb as never)).catch(
      (e) => e,
    )
    expect(refused).toBeInstanceOf(Error)
    expect(String(refused.code)).not.toMatch(/WARDEN/)
    expect(readFileSync(file, 'utf8')).toBe('keep')
    await call((cb) => sftp.close(handle, cb))
    // On a handle opened for write, writes belong to that (decided) open.
    const writable = await open(file, WRITE)
    audit.clear()
    await call((cb) => sftp.write(writable, Buffer.from('KEEP'), 0, 4, 0, cb as never))
    expect(audit.records).toHaveLength(0)
    await call((cb) => sftp.close(writable, cb))
    expect(readFileSync(file, 'utf8')).toBe('KEEP')
  })

  test('a handle this session did not open, a closed one, or an edited one is refused', async () => {
    const file = `${ro}/handles`
    seed(file)
    const handle = await open(file, READ)
    const forged = Buffer.from([0, 0, 0, 7])
    const refused = { code: 'ERR_WARDEN_DENIED', rule: 'warden:sftp-handle' }
    audit.clear()
    await expect(
      call((cb) => sftp.read(forged, Buffer.alloc(1), 0, 1, 0, cb as never)),
    ).rejects.toMatchObject({
      ...refused,
      message: expect.stringContaining('unknown handle'),
    })
    await expect(call((cb) => sftp.fchmod('0' as never, 0o777, cb))).rejects.toMatchObject({
      ...refused,
      message: expect.stringContaining('must be a Buffer'),
    })
    const copy = Buffer.from(handle)
    await call((cb) => sftp.close(handle, cb))
    const closed = audit.records.length
    await expect(call((cb) => sftp.fchmod(copy, 0o777, cb))).rejects.toMatchObject(refused)
    // Edited after open: what is looked up is what is sent.
    const other = await open(file, READ)
    other[other.length - 1] ^= 0xff
    await expect(call((cb) => sftp.fstat(other, cb as never))).rejects.toMatchObject(refused)
    // a stream on a handle this session does not hold
    const stream = sftp.createReadStream('', { handle: forged } as never)
    await expect(
      new Promise((resolve, reject) => stream.on('error', reject).on('end', resolve).resume()),
    ).rejects.toMatchObject(refused)
    other[other.length - 1] ^= 0xff
    await call((cb) => sftp.close(other, cb))
    expect(statSync(file).mode & 0o777).toBe(0o644)
    // Every refusal is a denied record of its own (the close and open between them are allowed reads).
    const denials = audit.records.filter((r) => r.decision?.rule === 'warden:sftp-handle')
    expect(denials).toHaveLength(5)
    for (const record of denials)
      expect(record).toMatchObject({
        action: 'sftp.write',
        facts: { op: 'write' },
        outcome: { status: 'denied' },
      })
    expect(audit.records[closed]?.decision?.rule).toBe('warden:sftp-handle')
  })

  test('ext_copy_data into a read handle is a write; a stream on a read handle too', async () => {
    const src = `${ro}/copy-src`
    const dst = `${ro}/copy-dst`
    seed(src, 'source')
    seed(dst)
    const from = await open(src, READ)
    const to = await open(dst, READ)
    await expect(call((cb) => sftp.ext_copy_data(from, 0, 6, to, 0, cb))).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
    })
    expect(last()).toMatchObject({ action: 'sftp.write', facts: { path: dst } })
    const stream = sftp.createWriteStream('', { handle: to, autoClose: false } as never)
    await expect(
      new Promise((resolve, reject) => stream.on('error', reject).on('close', resolve).end('pwned')),
    ).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
    })
    expect(last()).toMatchObject({
      action: 'sftp.write',
      facts: { path: dst },
      outcome: { status: 'denied' },
    })
    expect(readFileSync(dst, 'utf8')).toBe('keep')
    await call((cb) => sftp.close(from, cb))
    await call((cb) => sftp.close(to, cb))
  })

  test('opendir handles list, and only list', async () => {
    const dir = await call<Buffer>((cb) => sftp.opendir(ro, cb as never))
    expect(last()).toMatchObject({ action: 'sftp.read', facts: { op: 'list', path: ro } })
    const names = await call<{ filename: string }[]>((cb) => sftp.readdir(dir, cb as never))
    expect(Array.isArray(names)).toBe(true)
    await expect(call((cb) => sftp.fchmod(dir, 0o777, cb))).rejects.toMatchObject({
      code: 'ERR_WARDEN_DENIED',
    })
    await call((cb) => sftp.close(dir, cb))
    expect(statSync(ro).mode & 0o777).not.toBe(0o777)
  })
})

test('no record and no error carries the CA key or a leased private key', () => {
  expect(leases.length).toBeGreaterThan(0)
  expect(errors.length).toBeGreaterThan(0)
  const canaries = [sshd.caKey.split('\n')[1]!]
  for (const lease of leases) {
    if (lease.credential.type !== 'ssh') throw new Error('not ssh')
    canaries.push(
      ...revealSecret(lease.credential.privateKey)
        .split('\n')
        .filter((l) => l && !l.startsWith('-----')),
    )
  }
  const places = [
    audit.lines.join('\n'),
    ...errors.map((e) => `${inspect(e, { depth: 6 })} ${JSON.stringify(e)}`),
    inspect(sftp, { depth: 4 }),
  ]
  for (const place of places) for (const canary of canaries) expect(place).not.toContain(canary)
})
