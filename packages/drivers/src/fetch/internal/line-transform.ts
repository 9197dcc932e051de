// Splits a text stream into lines, hands each line (without its line ending) to `mask`, and re-emits it with
// the original ending. A line longer than `maxLineBytes` errors the stream: masking never sees half a secret.
import { WardenError } from '@warden/policy'

export function lineTransform(
  mask: (line: string) => string,
  maxLineChars: number,
): TransformStream<string, string> {
  let pending = ''
  return new TransformStream<string, string>({
    transform(chunk, controller) {
      pending += chunk
      let start = 0
      let out = ''
      for (let nl = pending.indexOf('\n', start); nl !== -1; nl = pending.indexOf('\n', start)) {
        const cr = nl > start && pending.charCodeAt(nl - 1) === 13
        const line = pending.slice(start, cr ? nl - 1 : nl)
        out += mask(line) + (cr ? '\r\n' : '\n')
        start = nl + 1
      }
      pending = pending.slice(start)
      if (pending.length > maxLineChars) {
        controller.error(
          new WardenError(
            'ERR_WARDEN_MASKING',
            `a response line exceeds ${maxLineChars} characters; it cannot be masked`,
          ),
        )
        return
      }
      if (out !== '') controller.enqueue(out)
    },
    flush(controller) {
      if (pending !== '') controller.enqueue(mask(pending))
    },
  })
}
