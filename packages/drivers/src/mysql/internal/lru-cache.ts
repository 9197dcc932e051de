/**
 * An approximate LRU with a single Map lookup on a hit: entries live in a "hot" generation; when it
 * fills, it becomes the "cold" one and a new hot one starts. A hit in cold moves the entry to hot;
 * what stays cold for a whole generation is dropped. Holds at most 2 × `capacity` entries.
 */
export class LruCache<K, V> {
  #hot = new Map<K, V>()
  #cold = new Map<K, V>()
  readonly #capacity: number
  constructor(capacity: number) {
    this.#capacity = capacity
  }
  get(key: K): V | undefined {
    const hot = this.#hot.get(key)
    if (hot !== undefined) return hot
    const cold = this.#cold.get(key)
    if (cold !== undefined) {
      this.#cold.delete(key)
      this.set(key, cold)
    }
    return cold
  }
  set(key: K, value: V): void {
    if (this.#hot.size >= this.#capacity) {
      this.#cold = this.#hot
      this.#hot = new Map()
    }
    this.#hot.set(key, value)
  }
  get size(): number {
    return this.#hot.size + this.#cold.size
  }
}
