// A streamed body that ends its command (core's context.stream()): chunks reach the caller as
// they come, counted; the end (what the masking transforms emit once the source has ended, and
// `done`) is released only once core has stored the outcome record; a late error is recorded
// before the caller sees it; a caller's cancel ends the command as cancelled.
import type { CommandStream } from '@warden/core'

/**
 * `source` through `through` (e.g. masking transforms), as the stream handed to the caller.
 * Pulled only as the caller reads (no read-ahead beyond what `through` holds).
 */
export function recordedBody(
  source: ReadableStream<Uint8Array>,
  command: CommandStream,
  through: (tapped: ReadableStream<Uint8Array>) => ReadableStream<Uint8Array> = (s) => s,
): ReadableStream<Uint8Array> {
  // Whether the server's body has ended: what `through` emits after that is its flush (a held
  // tail, masked), which belongs to the end and waits with it.
  let sourceDone = false
  const tapped = source.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      flush() {
        sourceDone = true
      },
    }),
  )
  const reader = through(tapped).getReader()
  const tail: Uint8Array[] = []
  let finished = false
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          let next: Awaited<ReturnType<typeof reader.read>>
          try {
            next = await reader.read()
          } catch (error) {
            finished = true
            // Recorded before the caller hears of it; if it cannot be, the caller hears that instead.
            try {
              await command.end(error)
            } catch (unrecorded) {
              controller.error(unrecorded)
              return
            }
            controller.error(error)
            return
          }
          if (next.done) {
            finished = true
            try {
              await command.end()
            } catch (unrecorded) {
              controller.error(unrecorded)
              return
            }
            for (const chunk of tail) controller.enqueue(chunk)
            controller.close()
            return
          }
          command.bytes(next.value.byteLength)
          if (sourceDone) {
            tail.push(next.value)
            continue
          }
          controller.enqueue(next.value)
          return
        }
      },
      async cancel(reason) {
        if (finished) return
        finished = true
        await reader.cancel(reason).catch(() => {})
        await command.cancel()
      },
    },
    { highWaterMark: 0 },
  )
}
