import { describeKube } from '@warden/drivers/kube'
import { describe, expect, test } from 'vitest'

// Expected values follow k8s.io/apiserver's RequestInfoFactory (verb, namespace, resource, name, subresource).
const CASES: [string, string, Record<string, unknown>][] = [
  [
    'GET',
    '/api/v1/namespaces/default/pods',
    { verb: 'list', group: '', version: 'v1', resource: 'pods', namespace: 'default', name: '' },
  ],
  ['GET', '/api/v1/namespaces/default/pods/web', { verb: 'get', resource: 'pods', name: 'web' }],
  ['GET', '/api/v1/namespaces/default/pods?watch=true', { verb: 'watch', resource: 'pods' }],
  ['GET', '/api/v1/namespaces/default/pods?watch=1&resourceVersion=5', { verb: 'watch' }],
  ['GET', '/api/v1/watch/namespaces/default/pods/web', { verb: 'watch', name: 'web', namespace: 'default' }],
  ['GET', '/api/v1/pods', { verb: 'list', resource: 'pods', namespace: '' }],
  ['GET', '/api/v1/namespaces', { verb: 'list', resource: 'namespaces', namespace: '' }],
  [
    'GET',
    '/api/v1/namespaces/team',
    { verb: 'get', resource: 'namespaces', name: 'team', namespace: 'team' },
  ],
  [
    'PUT',
    '/api/v1/namespaces/team/finalize',
    { verb: 'update', resource: 'namespaces', name: 'team', subresource: 'finalize' },
  ],
  ['GET', '/api/v1/namespaces/team/status', { verb: 'get', resource: 'namespaces', subresource: 'status' }],
  ['POST', '/api/v1/namespaces/default/secrets', { verb: 'create', resource: 'secrets' }],
  ['PUT', '/api/v1/namespaces/default/configmaps/cfg', { verb: 'update', name: 'cfg' }],
  [
    'PATCH',
    '/apis/apps/v1/namespaces/prod/deployments/api/scale',
    {
      verb: 'patch',
      group: 'apps',
      version: 'v1',
      resource: 'deployments',
      name: 'api',
      subresource: 'scale',
    },
  ],
  ['DELETE', '/api/v1/namespaces/default/pods/web', { verb: 'delete', name: 'web' }],
  ['DELETE', '/api/v1/namespaces/default/pods?labelSelector=a%3Db', { verb: 'deletecollection', name: '' }],
  [
    'GET',
    '/api/v1/namespaces/default/pods/web/log?container=app',
    { verb: 'get', subresource: 'log', container: 'app' },
  ],
  [
    'GET',
    '/api/v1/namespaces/default/pods/web/exec?stdout=true&command=sh&command=-c&command=cat%20%2Fetc%2Fhostname&container=app',
    { verb: 'exec', subresource: 'exec', command: ['sh', '-c', 'cat /etc/hostname'], container: 'app' },
  ],
  [
    'POST',
    '/api/v1/namespaces/default/pods/web/attach?container=app&stdin=true',
    { verb: 'attach', container: 'app' },
  ],
  ['GET', '/api/v1/namespaces/default/pods/web/portforward?ports=8080', { verb: 'portforward', name: 'web' }],
  [
    'GET',
    '/apis/example.com/v1alpha1/widgets',
    { verb: 'list', group: 'example.com', version: 'v1alpha1', resource: 'widgets' },
  ],
  ['GET', '/api', { verb: 'get', resource: '', version: '' }],
  ['GET', '/api/v1', { verb: 'get', resource: '', version: 'v1' }],
  ['GET', '/apis/apps/v1', { verb: 'get', resource: '', group: 'apps', version: 'v1' }],
  ['GET', '/version', { verb: 'get', resource: '' }],
  // Decoded before it is split, as the API server does; a segment decoding to "/" is refused (kube-paths.test.ts).
  ['GET', '/api/v1/namespaces/a%2Db/pods', { namespace: 'a-b' }],
]

describe('describeKube', () => {
  for (const [method, path, expected] of CASES) {
    test(`${method} ${path}`, () => {
      const facts = describeKube(method, path)
      expect(facts).toMatchObject(expected)
      expect(Object.isFrozen(facts)).toBe(true)
      expect(Object.isFrozen(facts.command)).toBe(true)
    })
  }

  test('every field is present, empty when it does not apply', () => {
    expect(describeKube('GET', '/version')).toEqual({
      verb: 'get',
      group: '',
      version: '',
      resource: '',
      subresource: '',
      namespace: '',
      name: '',
      command: [],
      container: '',
      dryRun: false,
      impersonate: { user: '', groups: [], uid: '', extras: {} },
    })
  })
})
