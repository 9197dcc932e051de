import { AsyncLocalStorage } from 'node:async_hooks'
import type { Session } from '../session.js'

/** The ambient session of the current async context (session.run). One store for every Warden. */
export const ambient = new AsyncLocalStorage<Session>()
