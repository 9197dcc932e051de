// The guarded Pool and Client declare pg's own query overloads (issue 21): types/query-types.ts
// is compiled by tsc against the sources; it asserts `pool.query<{id: number}>()` resolves to
// `QueryResult<{id: number}>` and that wrong uses (each a @ts-expect-error) do not compile.
import { spawnSync } from 'node:child_process'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const tsc = fileURLToPath(new URL('../../../../node_modules/typescript/bin/tsc', import.meta.url))
const project = fileURLToPath(new URL('./types/tsconfig.json', import.meta.url))

it('pool.query<Row>() and client.query<Row>() have pg result types; wrong uses fail to compile', {
  timeout: 120_000,
}, () => {
  const run = spawnSync(process.execPath, [tsc, '-p', project, '--pretty', 'false'], {
    cwd: dirname(project),
    encoding: 'utf8',
  })
  expect(run.error).toBeUndefined()
  // Only the fixtures' diagnostics: the sources' own type errors are the typecheck's to report.
  const lines = `${run.stdout}${run.stderr}`.split('\n')
  expect(lines.filter((l) => l.startsWith('query-types.ts'))).toEqual([])
  // the control: a number assigned to a string is reported, so the rows really are typed
  expect(lines.filter((l) => l.startsWith('wrong-use.ts'))).toEqual([
    expect.stringMatching(
      /^wrong-use\.ts\(5,14\): error TS2322: Type 'number' is not assignable to type 'string'/,
    ),
  ])
})
