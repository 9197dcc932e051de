// The stream masker with the real masking engine: private-key PEM blocks (whole, folded into
// 10-character lines, cut into 3-character chunks), JSON documents whose keys and values sit on
// different lines, terminal colours, and the cap (fail closed).
import { generateKeyPairSync } from 'node:crypto'
import { Readable } from 'node:stream'
import { text as readText } from 'node:stream/consumers'
import { createMaskingEngine } from '@warden/core'
import { describe, expect, test } from 'vitest'
import { StreamMasker } from '../../src/internal/stream-masker.js'
import { maskByteTransform, maskTextStream } from '../../src/internal/stream-masker-streams.js'

const engine = createMaskingEngine({ key: 'a-key-of-at-least-16-bytes' })
const masker = () =>
  engine.masker([
    {
      name: 'secrets',
      columns: [],
      detectors: ['private_key', 'aws_access_key', 'credit_card'],
      strategy: 'redact',
      tags: [],
    },
    { name: 'keys', columns: ['password', 'user.email'], detectors: [], strategy: 'redact', tags: [] },
  ])
const PEM = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
  type: 'pkcs8',
  format: 'pem',
}) as string
const BODY = PEM.split('\n').slice(1, -2) // base64 lines
const fold = (text: string, n: number) =>
  text
    .split('\n')
    .flatMap((l) => (l === '' ? [''] : (l.match(new RegExp(`.{1,${n}}`, 'g')) as string[])))
    .join('\n')
const chunks = (text: string, n: number) => text.match(new RegExp(`[\\s\\S]{1,${n}}`, 'g')) ?? []

function run(
  input: string,
  size: number,
  options = { maxHeldChars: 64 * 1024, overflow: 'redact' as const },
): string {
  const s = new StreamMasker(masker(), options)
  let out = ''
  for (const c of chunks(input, size)) out += s.push(c)
  return out + s.end()
}

function noKey(out: string): void {
  for (const line of BODY) expect(out).not.toContain(line)
  for (const line of BODY)
    for (const piece of chunks(line, 10)) if (piece.length === 10) expect(out).not.toContain(piece)
}

describe('StreamMasker', () => {
  test('a private key PEM block is replaced whole; the text around it is kept', () => {
    for (const size of [1, 3, 64, 100_000]) {
      const out = run(`before\nkey: ${PEM}after\n`, size)
      noKey(out)
      expect(out).toBe('before\nkey: [redacted]\nafter\n')
    }
  })

  test('folded into 10-character lines (the BEGIN and END lines split too), cut into 3-character chunks', () => {
    const out = run(`ls\n${fold(PEM, 10)}done\n`, 3)
    noKey(out)
    expect(out.startsWith('ls\n')).toBe(true)
    expect(out.endsWith('done\n')).toBe(true)
    expect(out).toContain('[redacted]')
  })

  test('colour codes inside the key are read through; a coloured line with no secret is kept byte for byte', () => {
    const coloured = PEM.split('\n')
      .map((l, i) => (i % 2 === 1 ? `\x1b[01;31m\x1b[K${l.slice(0, 5)}\x1b[m\x1b[K${l.slice(5)}` : l))
      .join('\n')
    noKey(run(coloured, 7))
    const plain = 'total 3\n\x1b[01;34mdir\x1b[0m  \x1b[01;32mrun.sh\x1b[0m\n'
    expect(run(plain, 5)).toBe(plain)
    // grep --color=always cuts a card number with escapes: found on the visible text.
    const grep = 'card: \x1b[01;31m\x1b[K4111\x1b[m\x1b[K 1111 1111 1111\n'
    expect(run(grep, 4)).toBe('card: [redacted]\n')
  })

  test('a certificate or public key passes; an unterminated key fails closed at the end and at the cap', () => {
    const cert = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n'
    expect(run(cert, 5)).toBe(cert)
    const open = PEM.split('\n').slice(0, -2).join('\n')
    const out = run(`${open}\n`, 9)
    noKey(out)
    expect(out).toBe('[redacted]')
    // Past the cap: redacted, and every line dropped until END; the lines after it come back.
    const capped = run(`${PEM.replace(/\n-----END/, `\n${'QUJD\n'.repeat(200)}-----END`)}after\n`, 11, {
      maxHeldChars: 512,
      overflow: 'redact',
    })
    noKey(capped)
    expect(capped).toBe('[redacted]\nafter\n')
    expect(() => run(open, 9, { maxHeldChars: 512, overflow: 'error' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_WARDEN_MASKING' }),
    )
  })

  test('multi-line JSON: keys masked across lines and chunks; untouched documents kept as written', () => {
    const doc =
      '{\n  "user": {\n    "email":\n      "ada@example.com",\n    "id": 7\n  },\n  "password": "hunter2"\n}\n'
    const out = run(`log start\n${doc}log end\n`, 3)
    expect(out).not.toContain('ada@example.com')
    expect(out).not.toContain('hunter2')
    expect(JSON.parse(out.split('log start\n')[1].split('log end\n')[0])).toEqual({
      user: { email: '[redacted]', id: 7 },
      password: '[redacted]',
    })
    const kept = '{\n  "id": 1,\n  "name": "x"\n}\n'
    expect(run(kept, 2)).toBe(kept)
    // One line of JSON is masked by key too; shell text with brackets is just text.
    expect(run('{"password":"hunter2"}\n', 4)).toBe('{"password":"[redacted]"}\n')
    expect(run('[ -f x ] && {\n  echo hi\n}\n', 3)).toBe('[ -f x ] && {\n  echo hi\n}\n')
  })

  test('a complete line is emitted at once unless a BEGIN marker may be starting at its end', () => {
    const s = new StreamMasker(masker(), { maxHeldChars: 4096, overflow: 'redact' })
    expect(s.push(`${'x'.repeat(300)}\n`)).toBe(`${'x'.repeat(300)}\n`)
    expect(s.push('table\n-----\n')).toBe('table\n')
    expect(s.push('next\n')).toBe('-----\nnext\n')
    expect(s.end()).toBe('')
  })

  test('an overlong line is redacted (or errors) and the stream goes on', () => {
    const out = run(`${'x'.repeat(2000)}\nnext\n`, 100, { maxHeldChars: 512, overflow: 'redact' })
    expect(out).toBe('[redacted]\nnext\n')
  })

  test('WHATWG and Node adapters', async () => {
    const input = `a\n${fold(PEM, 10)}b\n`
    const web = await new Response(
      ReadableStream.from(chunks(input, 5))
        .pipeThrough(maskTextStream(masker(), { maxHeldChars: 65_536, overflow: 'error' }))
        .pipeThrough(new TextEncoderStream()),
    ).text()
    noKey(web)
    expect(web.startsWith('a\n')).toBe(true)
    const node = await readText(
      Readable.from(chunks(input, 5).map((c) => Buffer.from(c))).pipe(
        maskByteTransform(masker(), { maxHeldChars: 65_536, overflow: 'error' }),
      ),
    )
    expect(node).toBe(web)
  })
})
