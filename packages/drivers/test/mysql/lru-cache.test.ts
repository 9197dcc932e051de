import { expect, test } from 'vitest'
import { LruCache } from '../../src/mysql/internal/lru-cache.js'

test('keeps recently used entries, drops what stayed unused for a generation, bounded by 2 × capacity', () => {
  const c = new LruCache<string, number>(2)
  c.set('a', 1)
  c.set('b', 2)
  c.set('c', 3) // hot {a,b} becomes cold; hot {c}
  expect(c.get('a')).toBe(1) // promoted back to hot {c, a}
  c.set('d', 4) // hot {c,a} becomes cold; hot {d}; b is dropped
  expect(c.get('b')).toBeUndefined()
  expect(c.get('a')).toBe(1)
  expect(c.get('c')).toBe(3)
  for (let i = 0; i < 100; i++) c.set(`k${i}`, i)
  expect(c.size).toBeLessThanOrEqual(4)
  expect(c.get('k99')).toBe(99)
})
