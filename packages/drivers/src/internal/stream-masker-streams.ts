// The stream masker as a WHATWG TransformStream (fetch bodies) and as a Node Transform (pod logs,
// exec output). Both decode UTF-8 across chunk boundaries; an overflow with `overflow: 'error'`
// errors the stream with ERR_WARDEN_MASKING.
import { Transform } from 'node:stream'
import { StreamMasker, type StreamMaskerOptions, type TextMasker } from './stream-masker.js'

/** Text in, masked text out. */
export function maskTextStream(
  masker: TextMasker,
  options: StreamMaskerOptions,
): TransformStream<string, string> {
  const stream = new StreamMasker(masker, options)
  return new TransformStream<string, string>({
    transform(chunk, controller) {
      const out = stream.push(chunk)
      if (out !== '') controller.enqueue(out)
    },
    flush(controller) {
      const out = stream.end()
      if (out !== '') controller.enqueue(out)
    },
  })
}

/** Bytes (UTF-8) in, masked UTF-8 bytes out. */
export function maskByteTransform(masker: TextMasker, options: StreamMaskerOptions): Transform {
  const stream = new StreamMasker(masker, options)
  const decoder = new TextDecoder()
  return new Transform({
    transform(chunk: Buffer | string, _encoding, callback) {
      try {
        const text = typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true })
        const out = stream.push(text)
        callback(null, out === '' ? undefined : Buffer.from(out))
      } catch (err) {
        callback(err as Error)
      }
    },
    flush(callback) {
      try {
        const out = stream.push(decoder.decode()) + stream.end()
        callback(null, out === '' ? undefined : Buffer.from(out))
      } catch (err) {
        callback(err as Error)
      }
    },
  })
}
