/** Indented JSON with arrays of plain values on one line: facts read at a glance. */
export function compactJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2).replace(
    /\[\n\s+([^[\]{}]*?)\n\s*\]/g,
    (_m, inner: string) => `[${inner.split(/,\n\s+/).join(', ')}]`,
  )
}
