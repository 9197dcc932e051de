// Every relative link in the repository's markdown resolves: the file or folder exists, and an
// #anchor names a heading of its target (as GitHub renders it). External links are not fetched.
import { existsSync, statSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { anchors, links, markdownFiles, ROOT, read } from './markdown.js'

function broken(file: string): string[] {
  const problems: string[] = []
  for (const { target, line } of links(read(file))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto:, …
    const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined]
    const path = decodeURIComponent(pathPart)
    const resolved =
      path === '' ? join(ROOT, file) : join(ROOT, path.startsWith('/') ? path : join(dirname(file), path))
    const where = `${file}:${line}: ${target}`
    if (!resolved.startsWith(ROOT)) {
      problems.push(`${where} (points outside the repository)`)
      continue
    }
    if (!existsSync(resolved)) {
      problems.push(`${where} (no ${relative(ROOT, resolved)})`)
      continue
    }
    if (anchor !== undefined && anchor !== '') {
      if (statSync(resolved).isDirectory() || !resolved.endsWith('.md'))
        problems.push(`${where} (an anchor into a file that is not markdown)`)
      else if (!anchors(read(relative(ROOT, resolved))).has(decodeURIComponent(anchor).toLowerCase()))
        problems.push(`${where} (no heading #${anchor} in ${relative(ROOT, resolved)})`)
    }
  }
  return problems
}

describe('markdown links', () => {
  const files = markdownFiles()

  it('finds the repository docs', () => {
    expect(files).toContain('README.md')
    expect(files).toContain('docs/architecture.md')
    expect(files).toContain('docs/request-model.md')
    expect(files.some((f) => f.includes('node_modules') || f.split('/').includes('dist'))).toBe(false)
  })

  it.each(files)('%s: every relative link resolves', (file) => {
    expect(broken(file)).toEqual([])
  })

  it('docs do not point at files outside the repository', () => {
    // bench/RESULTS.md is generated: its generators (bench/**/*.ts) carry its wording.
    const outside = files
      .filter((file) => file !== 'bench/RESULTS.md')
      .flatMap((file) =>
        read(file)
          .split('\n')
          .flatMap((text, i) =>
            /DESIGN\.md|shared\/research|team's shared folder/.test(text)
              ? [`${file}:${i + 1}: ${text.trim()}`]
              : [],
          ),
      )
    expect(outside).toEqual([])
  })
})

describe('the link checker', () => {
  it('reports a missing file, a missing anchor and a link out of the repository', () => {
    const md =
      '# Top\n\n## The `sql` facts (v2)\n\n[a](missing.md) [b](#nope) [c](#the-sql-facts-v2) [d](../../../x.md)\n'
    expect(links(md).map((l) => l.target)).toEqual([
      'missing.md',
      '#nope',
      '#the-sql-facts-v2',
      '../../../x.md',
    ])
    expect([...anchors(md)]).toEqual(['top', 'the-sql-facts-v2'])
  })

  it('ignores links in code, numbers repeated headings, and reads reference definitions', () => {
    const md = '## A\n## A\n`[x](in-code.md)`\n```\n[y](fenced.md)\n# Not a heading\n```\n[r]: ./ref.md\n'
    expect(links(md).map((l) => l.target)).toEqual(['./ref.md'])
    expect([...anchors(md)]).toEqual(['a', 'a-1'])
  })
})
