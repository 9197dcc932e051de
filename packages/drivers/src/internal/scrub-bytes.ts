// Replaces byte sequences (an injected credential's UTF-8 forms) in a streamed body of any kind, so a
// binary response that echoes the credential is scrubbed like a text one. Matches across chunk
// boundaries: the last (longest needle - 1) bytes are held until the next chunk or the end.

const REPLACEMENT = Buffer.from('[secret]')

/** A TransformStream replacing every occurrence of each needle (longest first) with `[secret]`. */
export function scrubBytes(needles: readonly string[]): TransformStream<Uint8Array, Uint8Array> {
  const patterns = [...new Set(needles)]
    .filter((n) => n.length > 0)
    .map((n) => Buffer.from(n, 'utf8'))
    .sort((a, b) => b.length - a.length)
  const keep = Math.max(0, ...patterns.map((p) => p.length - 1))
  let held: Buffer = Buffer.alloc(0)
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      const data = replaceAll(
        Buffer.concat([held, Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)]),
        patterns,
      )
      // Hold back what could be the start of a needle cut by the chunk boundary.
      const cut = Math.max(0, data.length - keep)
      held = Buffer.from(data.subarray(cut))
      if (cut > 0) controller.enqueue(new Uint8Array(data.subarray(0, cut)))
    },
    flush(controller) {
      if (held.length > 0) controller.enqueue(new Uint8Array(held))
    },
  })
}

function replaceAll(data: Buffer, patterns: readonly Buffer[]): Buffer {
  let out = data
  for (const p of patterns) {
    let at = out.indexOf(p)
    if (at < 0) continue
    const parts: Buffer[] = []
    let from = 0
    while (at >= 0) {
      parts.push(out.subarray(from, at), REPLACEMENT)
      from = at + p.length
      at = out.indexOf(p, from)
    }
    parts.push(out.subarray(from))
    out = Buffer.concat(parts)
  }
  return out
}
