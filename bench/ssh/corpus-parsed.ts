// How often describeShell refuses ordinary commands: the share of a corpus (one command a line, e.g.
// the public nl2bash corpus, TellinaTool/nl2bash data/bash/all.cm, not shipped here) that bash
// accepts (`bash -n`) but the describer returns `parsed: false`, with the refusals grouped by reason.
// Usage: node --import tsx --conditions warden-source bench/ssh/corpus-parsed.ts all.cm [--list]
// (a .json file is taken as an array of lines bash already accepted, to skip the bash -n pass).
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describeShell, loadShellParser } from '@warden/drivers/ssh'

const [file, flag] = process.argv.slice(2)
if (!file) throw new Error('usage: corpus-parsed.ts FILE [--list]')
const json = file.endsWith('.json')
const lines: string[] = json
  ? JSON.parse(readFileSync(file, 'utf8'))
  : [
      ...new Set(
        readFileSync(file, 'utf8')
          .split('\n')
          .filter((l) => l.trim() !== ''),
      ),
    ]
const accepted = json ? lines : lines.filter((line) => spawnSync('bash', ['-n', '-c', line]).status === 0)
await loadShellParser()
const reasons = new Map<string, string[]>()
for (const line of accepted) {
  const facts = await describeShell(line)
  if (facts.parsed) continue
  const reason = facts.error.replace(/ at line \d+, column \d+/, '').replace(/"[^"]*"/g, '"…"')
  reasons.set(reason, [...(reasons.get(reason) ?? []), line])
}
const refused = [...reasons.values()].reduce((n, l) => n + l.length, 0)
console.log(
  `${lines.length} distinct lines, ${accepted.length} accepted by bash, ${refused} refused ` +
    `(${((100 * refused) / accepted.length).toFixed(2)}%), parsed ${(100 - (100 * refused) / accepted.length).toFixed(2)}%`,
)
for (const [reason, list] of [...reasons].sort((a, b) => b[1].length - a[1].length)) {
  console.log(`${String(list.length).padStart(5)}  ${reason}`)
  if (flag === '--list') for (const l of list.slice(0, 8)) console.log(`         ${JSON.stringify(l)}`)
}
