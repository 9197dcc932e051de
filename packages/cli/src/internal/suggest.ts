/** Edit distance (insertions, deletions, substitutions), for "did you mean" on typos. */
export function levenshtein(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1))
    prev = row
  }
  return prev[b.length]
}

/** The closest candidate within `max` edits (2 by default), or undefined; ties go to the first. */
export function closest(word: string, candidates: readonly string[], max = 2): string | undefined {
  let best: string | undefined
  let bestDistance = max + 1
  for (const c of candidates) {
    const d = levenshtein(word, c)
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  return best
}

/** ` (did you mean X?)`, or '' when nothing is close. */
export function didYouMean(word: string, candidates: readonly string[], format = (s: string) => s): string {
  const hit = closest(word, candidates)
  return hit === undefined ? '' : ` (did you mean ${format(hit)}?)`
}
