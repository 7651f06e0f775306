/**
 * The Lua scripts of the Redis state backend. Each write is one script, so the revision check,
 * the `INCR` of the store-wide counter, the write, the index updates and the `XADD` of the
 * change happen atomically: no other client's command runs in between.
 *
 * Common KEYS: 1 entry hash, 2 revision counter, 3 namespace index (sorted set, score 0,
 * ordered by key), 4 deadlines (sorted set scored by `expiresAt`), 5 change stream,
 * 6 set of namespaces. A key under the prefix that is not a state entry (another type, or a
 * hash without `r`/`v`) makes the script fail with `CORE_NOT_ENTRY <key>`.
 *
 * Stream entry fields: `o` origin (the writer's id; empty for the sweeper), `c` reason,
 * `n` namespace, `k` key, `r` revision, `v` value (JSON, `set` only), `p` previous (JSON).
 *
 * Replies are arrays `{ ok, actual, revision, expiredRevision, priorRevision, previousJson|nil }`:
 * `priorRevision` is the revision of the entry the call found (`0` when none), so a hub knows
 * which change of the key came right before the call's own.
 * @internal
 */

/**
 * Reads the entry at KEYS[1] into `cur`, `rev`, `exp`, `live`, `actual` (ARGV[now] given).
 * `HMGET` fails on a key of another type; a key with none of the fields is checked with
 * `EXISTS` (a hash of someone else's), so the common path costs one call.
 */
const READ_ENTRY = (nowArg: number): string => `
local cur = redis.pcall('HMGET', KEYS[1], 'r', 'e', 'v')
if cur['err'] then return redis.error_reply('CORE_NOT_ENTRY ' .. KEYS[1]) end
local rev = tonumber(cur[1])
if rev == nil or not cur[3] then
  if cur[1] or cur[3] or redis.call('EXISTS', KEYS[1]) == 1 then
    return redis.error_reply('CORE_NOT_ENTRY ' .. KEYS[1])
  end
  rev = 0
end
local now = tonumber(ARGV[${nowArg}])
local exp = tonumber(cur[2])
local live = rev > 0 and (exp == nil or exp > now)
local actual = 0
if live then actual = rev end
local member = ARGV[1] .. ':' .. ARGV[2]
`

/** Appends one change to the stream (KEYS[5]); `maxlenArg` holds the approximate MAXLEN. */
const XADD = `
local function xadd(maxlen, fields)
  return redis.call('XADD', KEYS[5], 'MAXLEN', '~', maxlen, '*', unpack(fields))
end
local function remove()
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[3], ARGV[2])
  redis.call('ZREM', KEYS[4], member)
end
`

/**
 * ARGV: 1 namespace, 2 key, 3 value JSON, 4 now, 5 expiresAt or '', 6 ifRevision or '',
 * 7 origin, 8 stream MAXLEN, 9 grace ms added to the Redis TTL (the safety net `PX`).
 */
export const SET_SCRIPT: string = `${READ_ENTRY(4)}${XADD}
if ARGV[6] ~= '' and tonumber(ARGV[6]) ~= actual then return {0, actual} end
local expired = 0
if rev > 0 and not live then
  expired = redis.call('INCR', KEYS[2])
  xadd(ARGV[8], {'o', ARGV[7], 'c', 'expired', 'n', ARGV[1], 'k', ARGV[2], 'r', expired, 'p', cur[3]})
end
local r = redis.call('INCR', KEYS[2])
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'v', ARGV[3], 'r', r, 'u', ARGV[4], 'e', ARGV[5])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]) - now + tonumber(ARGV[9]))
  redis.call('ZADD', KEYS[4], tonumber(ARGV[5]), member)
else
  redis.call('HSET', KEYS[1], 'v', ARGV[3], 'r', r, 'u', ARGV[4])
  if exp ~= nil then
    redis.call('HDEL', KEYS[1], 'e')
    redis.call('PERSIST', KEYS[1])
    redis.call('ZREM', KEYS[4], member)
  end
end
-- An entry that exists is indexed already (the scripts index and unindex with the entry).
if rev == 0 then
  redis.call('ZADD', KEYS[3], 0, ARGV[2])
  redis.call('SADD', KEYS[6], ARGV[1])
end
if live then
  xadd(ARGV[8], {'o', ARGV[7], 'c', 'set', 'n', ARGV[1], 'k', ARGV[2], 'r', r, 'v', ARGV[3], 'p', cur[3]})
else
  xadd(ARGV[8], {'o', ARGV[7], 'c', 'set', 'n', ARGV[1], 'k', ARGV[2], 'r', r, 'v', ARGV[3]})
end
return {1, actual, r, expired, rev, cur[3]}
`

/** ARGV: 1 namespace, 2 key, 3 now, 4 ifRevision or '', 5 origin, 6 stream MAXLEN. */
export const DELETE_SCRIPT: string = `${READ_ENTRY(3)}${XADD}
if ARGV[4] ~= '' and tonumber(ARGV[4]) ~= actual then return {0, actual} end
if rev == 0 then return {1, 0, 0, 0, 0} end
local r = redis.call('INCR', KEYS[2])
remove()
if not live then
  xadd(ARGV[6], {'o', ARGV[5], 'c', 'expired', 'n', ARGV[1], 'k', ARGV[2], 'r', r, 'p', cur[3]})
  return {1, 0, 0, r, rev, cur[3]}
end
xadd(ARGV[6], {'o', ARGV[5], 'c', 'delete', 'n', ARGV[1], 'k', ARGV[2], 'r', r, 'p', cur[3]})
return {1, actual, r, 0, rev, cur[3]}
`

/**
 * ARGV: 1 namespace, 2 key, 3 revision or '' (the sweeper: whatever revision), 4 now,
 * 5 origin, 6 stream MAXLEN. Removes the entry only if it is at that revision and due.
 */
export const EXPIRE_SCRIPT: string = `${READ_ENTRY(4)}${XADD}
if rev == 0 then
  redis.call('ZREM', KEYS[4], member)
  return {1, 0, 0, 0, 0}
end
if (ARGV[3] ~= '' and tonumber(ARGV[3]) ~= rev) or exp == nil or exp > now then return {1, actual, 0, 0, rev} end
local r = redis.call('INCR', KEYS[2])
remove()
xadd(ARGV[6], {'o', ARGV[5], 'c', 'expired', 'n', ARGV[1], 'k', ARGV[2], 'r', r, 'p', cur[3]})
return {1, 0, 0, r, rev, cur[3]}
`
