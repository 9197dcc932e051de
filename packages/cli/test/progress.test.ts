import { describe, expect, it } from 'vitest'
import { colorEnabled, createProgress } from '../src/internal/io.js'

function io(isTTY: boolean) {
  const written: string[] = []
  const stream = { isTTY, write: (s: string) => written.push(s) }
  return { written, io: { stdout: stream, stderr: stream, env: {}, cwd: '/' } }
}

describe('progress and colour (internal)', () => {
  it('draws progress on a TTY stderr and clears it when done', () => {
    const { written, io: tty } = io(true)
    const progress = createProgress(tty, 'replaying requests')
    progress.tick(1234, 'records')
    progress.done()
    expect(written[0]).toBe('\r\x1b[2Kreplaying requests: 1,234 records')
    expect(written.at(-1)).toBe('\r\x1b[2K')
  })

  it('writes nothing when stderr is not a TTY', () => {
    const { written, io: piped } = io(false)
    const progress = createProgress(piped, 'replaying requests')
    progress.tick(1)
    progress.done()
    expect(written).toEqual([])
  })

  it('colours a TTY unless NO_COLOR is set or TERM is dumb', () => {
    expect(colorEnabled({ isTTY: true, write() {} }, {})).toBe(true)
    expect(colorEnabled({ isTTY: true, write() {} }, { NO_COLOR: '1' })).toBe(false)
    expect(colorEnabled({ isTTY: true, write() {} }, { TERM: 'dumb' })).toBe(false)
    expect(colorEnabled({ isTTY: false, write() {} }, {})).toBe(false)
  })
})
