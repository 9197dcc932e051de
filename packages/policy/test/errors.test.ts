import { WardenDeniedError, WardenError, WardenTypeError } from '@warden/policy'
import { describe, expect, it } from 'vitest'

describe('WardenError', () => {
  it('carries a stable code and is branded across installs', () => {
    const e = new WardenDeniedError('no-drop', 'drops are blocked')
    expect(e.code).toBe('ERR_WARDEN_DENIED')
    expect(e).toBeInstanceOf(WardenError)
    expect(e).toBeInstanceOf(WardenDeniedError)
    expect(new WardenError('ERR_POLICY_YAML', 'x')).not.toBeInstanceOf(WardenDeniedError)
    expect({ code: 'ERR_WARDEN_DENIED' }).not.toBeInstanceOf(WardenError)
    expect(e.message).toBe('denied by no-drop: drops are blocked')
  })

  it('bad arguments are TypeErrors that carry ERR_WARDEN_CONFIG and count as WardenErrors', () => {
    const e = new WardenTypeError('f: "x" must be a number')
    expect(e).toBeInstanceOf(TypeError)
    expect(e).toBeInstanceOf(WardenError)
    expect(e).not.toBeInstanceOf(WardenDeniedError)
    expect(e).toMatchObject({ code: 'ERR_WARDEN_CONFIG', name: 'TypeError' })
  })
})
