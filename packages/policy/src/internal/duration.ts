// Durations in policy documents: `15m`, `1h30m`, `90s`, `500ms`, `1d`. Whole units only.
const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const satisfies Record<
  string,
  number
>
const WHOLE = /^(?:\d+(?:ms|s|m|h|d))+$/
const PART = /(\d+)(ms|s|m|h|d)/g

/** Milliseconds, or undefined when `text` is not a duration (or is zero / absurdly long). */
export function parseDuration(text: string): number | undefined {
  if (!WHOLE.test(text)) return undefined
  let total = 0
  for (const m of text.matchAll(PART)) total += Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS]
  if (!Number.isSafeInteger(total) || total <= 0 || total > 366 * UNIT_MS.d) return undefined
  return total
}
