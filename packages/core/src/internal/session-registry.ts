import type { LeaseCache } from '../broker/lease-cache.js'

/**
 * The open sessions of one Warden, held weakly: a session the application dropped without closing
 * is freed by the garbage collector, and its leases are released then (a session holds leases
 * through a small holder object, so the cache never keeps the session itself alive).
 */
export class SessionRegistry<S extends object> {
  readonly #refs = new Set<WeakRef<S>>()
  readonly #byRef = new WeakMap<S, WeakRef<S>>()
  readonly #finalizer: FinalizationRegistry<{ ref: WeakRef<S>; holder: object }>

  constructor(leases: () => LeaseCache | undefined) {
    this.#finalizer = new FinalizationRegistry(({ ref, holder }) => {
      this.#refs.delete(ref)
      leases()
        ?.release(holder)
        .catch(() => {})
    })
  }

  add(session: S, holder: object): void {
    const ref = new WeakRef(session)
    this.#refs.add(ref)
    this.#byRef.set(session, ref)
    this.#finalizer.register(session, { ref, holder }, ref)
  }

  delete(session: S): void {
    const ref = this.#byRef.get(session)
    if (ref === undefined) return
    this.#byRef.delete(session)
    this.#refs.delete(ref)
    this.#finalizer.unregister(ref)
  }

  has(session: object): boolean {
    return this.#byRef.has(session as S)
  }

  get size(): number {
    return this.#refs.size
  }

  /** The sessions still open and alive. */
  live(): S[] {
    const out: S[] = []
    for (const ref of this.#refs) {
      const s = ref.deref()
      if (s !== undefined) out.push(s)
    }
    return out
  }
}
