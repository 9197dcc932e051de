/**
 * A small least-recently-used map: Map keeps insertion order, so the first key is the oldest.
 * A hit re-inserts its key (making it the newest) only when it has fallen out of the newest quarter
 * of the map: repeated hits on hot keys then cost one Map lookup, not a delete + insert each (which
 * also leaves the Map's table full of deleted slots to rehash). Eviction is oldest-first; a key is
 * never evicted within max × 3/4 insertions of its last use.
 */
export class Lru<K, V> {
  readonly #map = new Map<K, { value: V; at: number }>()
  readonly #max: number
  readonly #fresh: number
  /** Insertions (and refreshes) so far: an entry's `at` is its position in that sequence. */
  #clock = 0
  constructor(max: number) {
    this.#max = max
    this.#fresh = Math.floor(max / 4)
  }
  get(key: K): V | undefined {
    const entry = this.#map.get(key)
    if (entry === undefined) return undefined
    if (this.#clock - entry.at > this.#fresh) {
      this.#map.delete(key)
      this.#map.set(key, entry)
      entry.at = ++this.#clock
    }
    return entry.value
  }
  set(key: K, value: V): void {
    if (this.#max <= 0) return
    this.#map.delete(key)
    this.#map.set(key, { value, at: ++this.#clock })
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as K)
  }
  get size(): number {
    return this.#map.size
  }
}
