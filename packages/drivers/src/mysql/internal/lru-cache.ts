/** A small LRU map: Map keeps insertion order, so a hit is re-inserted at the end and the oldest key is first. */
export class LruCache<K, V> {
  readonly #map = new Map<K, V>()
  readonly #capacity: number
  constructor(capacity: number) {
    this.#capacity = capacity
  }
  get(key: K): V | undefined {
    const value = this.#map.get(key)
    if (value !== undefined) {
      this.#map.delete(key)
      this.#map.set(key, value)
    }
    return value
  }
  set(key: K, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.#capacity) this.#map.delete(this.#map.keys().next().value as K)
  }
  get size(): number {
    return this.#map.size
  }
}
