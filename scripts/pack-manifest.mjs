// prepack/postpack of each package: the published package.json has no `warden-source` export
// condition (it points at src/, which is not shipped; the repo's tests resolve sources through it
// via vitest.config.ts) and no export of an `internal/` module. `prepack` saves the manifest and
// writes the published one; `postpack` puts the saved one back.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'

const [step] = process.argv.slice(2)
const saved = 'package.json.warden-dev'

if (step === 'prepack') {
  const text = readFileSync('package.json', 'utf8')
  const manifest = JSON.parse(text)
  const strip = (target) => {
    if (target === null || typeof target !== 'object') return target
    const { 'warden-source': _source, ...rest } = target
    return Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, strip(v)]))
  }
  const exports = strip(manifest.exports ?? {})
  for (const [subpath, target] of Object.entries(exports)) {
    if (JSON.stringify(target).includes('/internal/') || subpath.includes('internal'))
      throw new Error(`pack-manifest: ${manifest.name} exports an internal module at ${subpath}`)
  }
  writeFileSync(saved, text)
  writeFileSync('package.json', `${JSON.stringify({ ...manifest, exports }, null, 2)}\n`)
} else if (step === 'postpack') {
  if (existsSync(saved)) renameSync(saved, 'package.json')
} else {
  throw new Error('usage: node pack-manifest.mjs prepack|postpack')
}
