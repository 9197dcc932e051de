import { WardenTypeError } from '@warden/policy'

// A credential value that never prints. Only drivers unwrap it, with revealSecret().
const values = new WeakMap<Secret, string>()
const inspect = Symbol.for('nodejs.util.inspect.custom')

export class Secret {
  constructor(value: string) {
    if (typeof value !== 'string') throw new WardenTypeError('Secret: value must be a string')
    values.set(this, value)
    Object.freeze(this)
  }
  toString(): string {
    return '[secret]'
  }
  toJSON(): string {
    return '[secret]'
  }
  [Symbol.toPrimitive](): string {
    return '[secret]'
  }
  [inspect](): string {
    return '[secret]'
  }
}

/** The one way to read a secret. Grep for it: only drivers call it, right where the library needs the value. */
export function revealSecret(secret: Secret): string {
  const value = values.get(secret)
  if (value === undefined) throw new WardenTypeError('revealSecret: not a Secret')
  return value
}

export function isSecret(value: unknown): value is Secret {
  return value instanceof Secret
}
