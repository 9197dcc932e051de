// Finding an injected credential in what a server sends back (a debugging endpoint, a proxy, an
// aggregated API reflecting `Authorization`): shared by /fetch and /kube, which both inject one.

/**
 * The values to look for: each injected value and its JSON-escaped form, longest first (so
 * "Bearer X" is replaced whole before X). Values under 4 characters are left out: they would mangle
 * ordinary text and are no real credential.
 */
export function echoNeedles(values: Iterable<string>): string[] {
  const all = new Set<string>()
  for (const v of values) {
    all.add(v)
    all.add(JSON.stringify(v).slice(1, -1))
  }
  return [...all].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length)
}

/** Replaces every needle with `[secret]`; undefined when there is nothing to look for. */
export function textScrubber(needles: readonly string[]): ((text: string) => string) | undefined {
  if (needles.length === 0) return undefined
  return (text) => {
    let out = text
    for (const n of needles) if (out.includes(n)) out = out.split(n).join('[secret]')
    return out
  }
}
