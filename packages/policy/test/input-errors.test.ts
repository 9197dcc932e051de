import { compilePolicy, loadPolicy, PolicyError } from '@warden/policy'
import { describe, expect, it } from 'vitest'

// Arguments of the wrong type (plain JavaScript callers, `as never`): every entry point answers
// with a PolicyError carrying a stable code, never a TypeError from deep inside.
describe('compilePolicy/loadPolicy input validation', () => {
  const ok = { rules: [{ name: 'r', effect: 'allow' }] }

  it.each([
    ['an array holding a string', [''], /sources\[0\] must be an object/],
    ['an array holding null', [null], /sources\[0\] must be an object/],
    ['an array holding a number', [1], /sources\[0\] must be an object/],
    ['an array of documents (not sources)', [ok], /sources\[0\]\.source must be a string/],
    [
      'a source whose text is not a string',
      [{ source: 'a.yaml', text: 5 }],
      /sources\[0\]\.text must be a string/,
    ],
    ['a source without text or document', [{ source: 'a.yaml' }], /needs text \(a string\) or document/],
    ['a number', 42, /got number/],
    ['undefined', undefined, /got undefined/],
    ['null', null, /got null/],
    ['a boolean', true, /got boolean/],
  ])('compilePolicy(%s) is a PolicyError', (_, input, message) => {
    let error: unknown
    try {
      compilePolicy(input as never)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(PolicyError)
    // a list of sources of the wrong shape is an input error; a scalar is a document of the wrong shape
    const code = Array.isArray(input) ? 'ERR_POLICY_INPUT' : 'ERR_POLICY_SCHEMA'
    expect(error).toMatchObject({ code, message: expect.stringMatching(message) })
  })

  it('bad options are ERR_POLICY_INPUT', () => {
    expect(() => compilePolicy('rules: []', null as never)).toThrow(
      expect.objectContaining({
        code: 'ERR_POLICY_INPUT',
        message: expect.stringMatching(/options must be an object/),
      }),
    )
    expect(() => compilePolicy('rules: []', { source: 7 } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_POLICY_INPUT' }),
    )
    expect(() => compilePolicy('rules: []', { clock: 'now' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_POLICY_INPUT' }),
    )
  })

  it.each([
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['a list holding a non-string', ['policies/', 5]],
  ])('loadPolicy(%s) rejects with ERR_POLICY_INPUT', async (_, input) => {
    const error = await loadPolicy(input as never).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PolicyError)
    expect(error).toMatchObject({ code: 'ERR_POLICY_INPUT' })
  })

  it('loadPolicy with bad options rejects with ERR_POLICY_INPUT', async () => {
    await expect(loadPolicy(ok as never, { trustedKeys: 'k' } as never)).rejects.toMatchObject({
      code: 'ERR_POLICY_INPUT',
    })
    await expect(loadPolicy(ok as never, null as never)).rejects.toMatchObject({ code: 'ERR_POLICY_INPUT' })
  })

  it('valid inputs still compile', async () => {
    expect(
      compilePolicy([
        { source: 'a.yaml', text: 'rules: []' },
        { source: 'b', document: ok as never },
      ]),
    ).toBeDefined()
    expect((await loadPolicy(ok as never)).decide({ action: 'x' }).effect).toBe('allow')
  })
})
