// The Lua scripts of redisApprovals: each step that must be atomic across instances is one script.
// Fields of `req:<id>`: request (JSON), status, fingerprint, requester (folded by the caller, so
// Lua never case-folds), expiresAt, need ("1,2": minApprovals per approver group), n:<group>
// (approvals counted per group), r:<folded reviewer> (who decided), nd (number of decisions),
// d<k> (the k-th signed decision, as the decider sealed it), by, reason, decidedAt.
// None of this is trusted by a waiting command: it re-checks every signed decision itself.

export const OPEN = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'request', ARGV[2], 'status', 'pending', 'fingerprint', ARGV[3], 'requester', ARGV[4], 'expiresAt', ARGV[5], 'need', ARGV[9], 'nd', '0')
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
redis.call('PUBLISH', ARGV[7], ARGV[8])
return 1`

// ARGV: id, status, by, reason, fingerprint shown, channel, folded reviewer, groups the reviewer
// counts in ("0,2"), sealed decision.
export const DECIDE = `
local h = redis.call('HMGET', KEYS[1], 'status', 'fingerprint', 'requester', 'expiresAt', 'request', 'need')
if not h[1] then return {'err', 'unknown'} end
if h[1] ~= 'pending' then return {'err', 'decided'} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(h[4]) <= now then return {'err', 'expired'} end
if ARGV[5] ~= h[2] then return {'err', 'fingerprint'} end
if ARGV[2] == 'approved' and ARGV[7] == h[3] then return {'err', 'self-approval'} end
if redis.call('HSETNX', KEYS[1], 'r:' .. ARGV[7], '1') == 0 then return {'err', 'duplicate'} end
local n = redis.call('HINCRBY', KEYS[1], 'nd', 1)
redis.call('HSET', KEYS[1], 'd' .. n, ARGV[9])
local status = 'pending'
if ARGV[2] == 'rejected' then
  status = 'rejected'
else
  local need = {}
  for m in string.gmatch(h[6] or '1', '%d+') do need[#need + 1] = tonumber(m) end
  for g in string.gmatch(ARGV[8], '%d+') do
    local c = redis.call('HINCRBY', KEYS[1], 'n:' .. g, 1)
    local m = need[tonumber(g) + 1]
    if m ~= nil and c >= m then status = 'approved' end
  end
end
if status ~= 'pending' then
  redis.call('HSET', KEYS[1], 'status', status, 'by', ARGV[3], 'reason', ARGV[4], 'decidedAt', tostring(now))
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('PUBLISH', ARGV[6], cjson.encode({type = 'decided', id = ARGV[1], status = status, by = ARGV[3], reason = ARGV[4]}))
else
  redis.call('PUBLISH', ARGV[6], cjson.encode({type = 'progress', id = ARGV[1], by = ARGV[3], approvals = n}))
end
return {'ok', tostring(now), h[5], status}`

// Takes a decided request out of the store (single use) and hands the waiter all of it.
export const CONSUME = `
local s = redis.call('HGET', KEYS[1], 'status')
if not s then return {'missing'} end
if s == 'pending' then return {'pending'} end
local all = redis.call('HGETALL', KEYS[1])
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[2], cjson.encode({type = 'removed', id = ARGV[1], status = 'used'}))
table.insert(all, 1, 'decided')
return all`

// Publishes 'removed' when either the hash or the pending entry was still there, so inboxes hear
// about an expiry even when one of the two has already been cleaned up.
export const WITHDRAW = `
local s = redis.call('HGET', KEYS[1], 'status')
redis.call('DEL', KEYS[1])
local z = redis.call('ZREM', KEYS[2], ARGV[1])
if s or z == 1 then redis.call('PUBLISH', ARGV[2], cjson.encode({type = 'removed', id = ARGV[1], status = ARGV[3]})) end
return s or false`

/** The sealed decisions among a hash's fields, in the order they were made. */
export function sealedDecisions(hash: Record<string, string>): string[] {
  const n = Number(hash.nd ?? 0)
  const out: string[] = []
  // Fields the scripts did not write (d<k> beyond nd, or a hand-set nd) are decisions too: the
  // waiter must see everything that claims to be one, and refuses what does not verify.
  const keys = Object.keys(hash).filter((k) => /^d\d+$/.test(k))
  keys.sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
  for (const k of keys) out.push(hash[k])
  if (Number.isInteger(n) && n > keys.length) out.push('') // nd claims decisions that are not there
  return out
}
