// What guardTools leaves on each tool it returns, for toolApproval() to decide a call without running it.

import type { ToolRefusal } from '@warden/core'
import type { Decision } from '@warden/policy'

export interface GuardedToolHandle {
  /** What policy decides for this call now (not run, not audited). */
  check(input: unknown, options: never): Promise<Decision>
  /** Records a denied call and resolves to its refusal; the tool never runs. */
  refuse(input: unknown, options: never): Promise<unknown | ToolRefusal>
  /** The tool's own `needsApproval`, still asked when policy allows. */
  readonly ownApproval: unknown
}

const handles = new WeakMap<object, GuardedToolHandle>()

export function registerGuarded(tool: object, handle: GuardedToolHandle): void {
  handles.set(tool, handle)
}

export function guardedHandle(tool: unknown): GuardedToolHandle | undefined {
  return tool !== null && typeof tool === 'object' ? handles.get(tool) : undefined
}
