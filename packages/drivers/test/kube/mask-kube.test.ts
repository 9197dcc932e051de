// Unit checks of the kube driver's masking rules that the API server double cannot produce: Table columns
// beyond the core Secret printer, rows without objects, and which encodings a request may be answered in.
import { describe, expect, test } from 'vitest'
import { describeKube } from '../../src/kube/describe-kube.js'
import { acceptRefusal, responseNeed, responseRefusal } from '../../src/kube/internal/encoding.js'
import { type KubeMaskContext, maskKubeValue } from '../../src/kube/internal/mask-kube.js'

const MASKED = Buffer.from('***').toString('base64')
const VALUE = Buffer.from('hunter2').toString('base64')

function context(secretsRequest: boolean, revealable: string[] = []) {
  const asked: string[] = []
  const ctx: KubeMaskContext = {
    secretsRequest,
    masker: null,
    reveal: (ns, name) => {
      asked.push(`${ns}/${name}`)
      return revealable.includes(name)
    },
  }
  return { ctx, asked }
}

const secret = (name: string) => ({
  kind: 'Secret',
  apiVersion: 'v1',
  metadata: { name, namespace: 'ns' },
  data: { k: VALUE },
})

describe('Tables of Secrets', () => {
  test('unknown columns are masked, the core printer columns kept; revealed rows untouched', () => {
    const { ctx } = context(true, ['open'])
    const table = {
      kind: 'Table',
      apiVersion: 'meta.k8s.io/v1',
      columnDefinitions: ['Name', 'Type', 'Data', 'Age', 'Value'].map((name) => ({ name, type: 'string' })),
      rows: [
        { cells: ['shut', 'Opaque', 1, '1m', 'hunter2'], object: secret('shut') },
        { cells: ['open', 'Opaque', 1, '1m', 'hunter2'], object: secret('open') },
      ],
    }
    const out = maskKubeValue(table, ctx) as any
    expect(out.rows[0].cells).toEqual(['shut', 'Opaque', 1, '1m', '***'])
    expect(out.rows[0].object.data).toEqual({ k: MASKED })
    expect(out.rows[1].cells).toEqual(['open', 'Opaque', 1, '1m', 'hunter2'])
    expect(out.rows[1].object.data).toEqual({ k: VALUE })
  })

  test('rows without an object (includeObject=None) are never revealed', () => {
    const { ctx, asked } = context(true, ['open'])
    const out = maskKubeValue(
      {
        kind: 'Table',
        columnDefinitions: [{ name: 'Name' }, { name: 'Extra' }],
        rows: [{ cells: ['open', 'x'] }],
      },
      ctx,
    ) as any
    expect(out.rows[0].cells).toEqual(['open', '***'])
    expect(asked).toEqual([])
  })

  test('a watch event Table without column definitions keeps the core layout, masks the object', () => {
    const { ctx } = context(true)
    const out = maskKubeValue(
      {
        type: 'MODIFIED',
        object: {
          kind: 'Table',
          columnDefinitions: [],
          rows: [{ cells: ['s', 'Opaque', 1, '2m', 'extra'], object: secret('s') }],
        },
      },
      ctx,
    ) as any
    expect(out.object.rows[0].cells).toEqual(['s', 'Opaque', 1, '2m', '***'])
    expect(out.object.rows[0].object.data).toEqual({ k: MASKED })
  })

  test('outside a secrets request a row whose object is a Secret is masked; other rows are not', () => {
    const { ctx } = context(false)
    const out = maskKubeValue(
      {
        kind: 'Table',
        columnDefinitions: [{ name: 'Name' }, { name: 'Data' }],
        rows: [
          { cells: ['s', 1], object: secret('s') },
          { cells: ['cm', 1], object: { kind: 'ConfigMap', metadata: { name: 'cm' }, data: { k: 'v' } } },
        ],
      },
      ctx,
    ) as any
    expect(out.rows[0].object.data).toEqual({ k: MASKED })
    expect(out.rows[1]).toEqual({
      cells: ['cm', 1],
      object: { kind: 'ConfigMap', metadata: { name: 'cm' }, data: { k: 'v' } },
    })
  })
})

describe('response encodings', () => {
  const need = (method: string, path: string, masked = false) =>
    responseNeed(describeKube(method, path), masked)

  test('requests that may return Secrets must be JSON both ways', () => {
    for (const path of [
      '/api/v1/namespaces/a/secrets/b',
      '/api/v1/secrets',
      '/api/v1/watch/namespaces/a/secrets',
      '/apis/example.com/v1/namespaces/a/widgets',
    ]) {
      const n = need('GET', path)
      expect(n.kind).toBe('json')
      expect(acceptRefusal(n, 'application/json, */*;q=0.8')).toBeUndefined()
      expect(acceptRefusal(n, TABLE_ACCEPT)).toBeUndefined()
      expect(acceptRefusal(n, 'application/yaml')).toMatch(/application\/yaml/)
      expect(acceptRefusal(n, 'application/json, application/cbor')).toMatch(/cbor/)
      expect(acceptRefusal(n, 'application/json, application/yaml;q=0')).toBeUndefined()
      expect(responseRefusal(n, 'application/json;as=Table;v=v1;g=meta.k8s.io', 200)).toBeUndefined()
      expect(responseRefusal(n, 'application/yaml', 200)).toMatch(/application\/yaml/)
      expect(responseRefusal(n, 'text/plain', 200)).toMatch(/text\/plain/)
      expect(responseRefusal(n, undefined, 200)).toMatch(/no content type/)
      expect(responseRefusal(n, 'text/plain; charset=utf-8', 404)).toBeUndefined()
      expect(responseRefusal(n, 'application/vnd.kubernetes.protobuf', 404)).toMatch(/protobuf/)
    }
  })

  test('core resources that hold no Secrets may be YAML unless policy masks apply', () => {
    expect(need('GET', '/api/v1/namespaces/a/pods/p').kind).toBe('any')
    expect(need('GET', '/api/v1/namespaces/a/configmaps', true).kind).toBe('json')
    expect(need('GET', '/api/v1/namespaces/a/pods/p/log', true).kind).toBe('any')
    expect(need('GET', '/version', true).kind).toBe('any')
  })

  test('proxied responses may be any text but never an API object encoding', () => {
    const n = need('GET', '/api/v1/namespaces/a/services/web:80/proxy/index.html')
    expect(n.kind).toBe('text')
    expect(acceptRefusal(n, 'text/html, */*')).toBeUndefined()
    expect(acceptRefusal(n, 'application/yaml')).toMatch(/yaml/)
    expect(responseRefusal(n, 'text/html', 200)).toBeUndefined()
    expect(responseRefusal(n, 'application/vnd.kubernetes.protobuf', 200)).toMatch(/protobuf/)
  })
})

const TABLE_ACCEPT =
  'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'
