import { randomBytes } from 'node:crypto'

// Ids: time-ordered prefix (sortable in logs) plus random bits. Random bytes are drawn in blocks
// so an id costs no syscall on the hot path.
let pool = Buffer.alloc(0)
let offset = 0

export function newId(): string {
  if (offset + 10 > pool.length) {
    pool = randomBytes(4096)
    offset = 0
  }
  const rand = pool.toString('hex', offset, offset + 10)
  offset += 10
  return Date.now().toString(36).padStart(9, '0') + rand
}
