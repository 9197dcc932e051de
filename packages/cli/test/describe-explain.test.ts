// warden describe and warden explain, as real subprocesses over the real describers.
import { afterAll, describe, expect, it } from 'vitest'
import { RECORDED_POLICY } from './fixtures.js'
import { runWarden, SUBPROCESS_TIMEOUT, tempDir } from './helpers.js'

const tmp = tempDir('explain')
afterAll(() => tmp.remove())
const POLICY = tmp.write('policy.yaml', RECORDED_POLICY)

describe('warden describe', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('prints the facts the PostgreSQL parser derives from SQL', async () => {
    const r = await runWarden(['describe', '--sql', 'DELETE FROM orders'])
    expect(r.code).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out).toMatchObject({
      action: 'sql.query',
      sql: { types: ['DELETE'], writes: ['orders'], write: true, unbounded: true, parsed: true },
    })
  })

  it('uses the MariaDB parser with --dialect mysql (its own syntax parses)', async () => {
    const r = await runWarden(['describe', '--dialect', 'mysql', '--sql', 'SELECT `id` FROM t LIMIT 1'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).sql).toMatchObject({ types: ['SELECT'], reads: ['t'], parsed: true })
  })

  it('describes a shell line, an HTTP request and a Kubernetes request', async () => {
    const shell = await runWarden(['describe', '--shell', 'journalctl -u nginx | tail -n 50'])
    expect(shell.code).toBe(0)
    expect(JSON.parse(shell.stdout)).toMatchObject({
      action: 'ssh.exec',
      shell: { programs: ['journalctl', 'tail'], flags: expect.arrayContaining(['pipe']), parsed: true },
    })
    const http = await runWarden(['describe', '--http', 'post', 'https://API.example.com./v1/charges?x=1'])
    expect(http.code).toBe(0)
    expect(JSON.parse(http.stdout)).toMatchObject({
      action: 'http.request',
      http: { method: 'POST', host: 'api.example.com', path: '/v1/charges', query: { x: '1' } },
    })
    const kube = await runWarden(['describe', '--kube', 'DELETE /api/v1/namespaces/prod/pods/web-1'])
    expect(kube.code).toBe(0)
    expect(JSON.parse(kube.stdout)).toMatchObject({
      action: 'kube.delete',
      kube: { verb: 'delete', resource: 'pods', namespace: 'prod', name: 'web-1' },
    })
  })

  it('shows text that does not parse as parsed: false, exit 0', async () => {
    const r = await runWarden(['describe', '--sql', 'SELEC 1'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).sql).toMatchObject({ parsed: false, error: expect.any(String) })
  })

  it('refuses what the describer refuses, and bad usage, with exit 2', async () => {
    const split = await runWarden(['describe', '--kube', 'GET', '/api/v1/namespaces/a%2Fb/pods'])
    expect(split.code).toBe(2)
    expect(split.stderr).toContain('cannot describe it')
    const none = await runWarden(['describe'])
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('give --sql, --shell, --http or --kube')
    const two = await runWarden(['describe', '--sql', 'SELECT 1', '--shell', 'ls'])
    expect(two.code).toBe(2)
    expect(two.stderr).toContain('give one of --sql, --shell, --http, --kube')
    const noUrl = await runWarden(['describe', '--http', 'GET'])
    expect(noUrl.code).toBe(2)
    expect(noUrl.stderr).toContain('--http needs a method and a URL')
    const dialect = await runWarden(['describe', '--sql', 'SELECT 1', '--dialect', 'oracle'])
    expect(dialect.code).toBe(2)
    expect(dialect.stderr).toContain('--dialect is postgres or mysql')
  })
})

describe('warden explain', { timeout: SUBPROCESS_TIMEOUT }, () => {
  it('lists every rule: matched, out of scope, and the operand that decided a non-match', async () => {
    const r = await runWarden([
      'explain',
      '--policy',
      POLICY,
      '--sql',
      'UPDATE orders SET status = 2 WHERE id = 7',
      '--principal',
      'service:svc-reports',
      '--groups',
      'readers',
      '--resource',
      'postgres:orders-prod',
    ])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('decision  deny by default: nothing allows this')
    const line = (rule: string) => r.stdout.split('\n').find((l) => l.includes(` ${rule} `)) ?? ''
    expect(line('readers-select')).toContain('no match: `!sql.write` is false (operand 2 of 2 of &&)')
    expect(line('destructive-sql')).toContain('no match: `sql.unbounded` is false')
    expect(line('agent-writes')).toContain(
      'no match: `principal.type == "agent"` is false (operand 1 of 2 of &&)',
    )
  })

  it('reports a matched rule and a resource out of scope; --json has the same facts', async () => {
    const args = [
      'explain',
      '--policy',
      POLICY,
      '--sql',
      'SELECT 1',
      '--principal',
      'agent:a',
      '--resource',
      'mysql:shop',
    ]
    const r = await runWarden(args)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(
      /readers-select +allow +not in scope: resource mysql:shop matches none of postgres:\*/,
    )
    const json = await runWarden([...args, '--json'])
    const { decision, rules } = JSON.parse(json.stdout)
    expect(decision).toMatchObject({ effect: 'deny', rule: 'default' })
    expect(rules.find((x: { rule: string }) => x.rule === 'agent-writes')).toMatchObject({
      matched: false,
      because: [{ text: 'sql.write', value: false, op: '&&', index: 2, count: 2 }],
    })
  })

  it('says when the resource has no name (rules scoped by name cannot match)', async () => {
    const r = await runWarden(['explain', '--policy', POLICY, '--shell', 'uptime'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('resource  ssh: with no name (--resource KIND:NAME for rules scoped by name)')
    expect(r.stdout).toMatch(/readers-select +allow +not in scope: resource ssh: matches none of postgres:\*/)
  })

  it('takes the request from stdin with --request -', async () => {
    const request = {
      principal: { id: 'agent-7', type: 'agent' },
      resource: { kind: 'postgres', name: 'orders-prod' },
      action: 'sql.query',
      sql: { types: ['UPDATE'], write: true, parsed: true },
    }
    const r = await runWarden(['explain', '--policy', POLICY, '--request', '-'], {}, JSON.stringify(request))
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('decision  approve by agent-writes')
    expect(r.stdout).toMatch(/✓ agent-writes +approve +matched/)
  })

  it('refuses bad usage with exit 2', async () => {
    const both = await runWarden(['explain', '--policy', POLICY, '--request', '{}', '--sql', 'SELECT 1'])
    expect(both.code).toBe(2)
    expect(both.stderr).toContain('give either --request or one of --sql')
    const noPolicy = await runWarden(['explain', '--sql', 'SELECT 1'])
    expect(noPolicy.code).toBe(2)
    expect(noPolicy.stderr).toContain('missing --policy')
    const stray = await runWarden(['explain', '--policy', POLICY, '--request', '{}', '--principal', 'x'])
    expect(stray.code).toBe(2)
    expect(stray.stderr).toContain('--principal goes with --sql')
  })
})
