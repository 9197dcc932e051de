// A small bounded LRU on Map's insertion order: get() refreshes, set() evicts the oldest.
export class Lru<K, V> {
  readonly #max: number
  readonly #map = new Map<K, V>()
  constructor(max: number) {
    this.#max = max
  }
  get size(): number {
    return this.#map.size
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
    if (this.#map.size > this.#max) this.#map.delete(this.#map.keys().next().value as K)
  }
}
