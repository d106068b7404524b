/*
 * The Lua scripts of RedisRegistryStorage. Each runs atomically on Redis, so every step of a write (condition,
 * quota, revision, record, indexes, change log) or of a lease expiry happens at once for every broker on the store.
 *
 * Keys, all under `<prefix>reg:` (names, collections and owners appear as `hex`, see `./codec.ts`):
 *   rev            string  the store revision
 *   log            stream  the change log; entry id `<revision>-0`, fields t (type), r (record), p (previous)
 *   r:<coll>       hash    name -> stored record
 *   i:<coll>       zset    names (score 0): ZRANGEBYLEX over hex is code-unit order
 *   o:<owner>      hash    `<coll>.<name>` -> 1, the owner's non-retained records
 *   ob             hash    owner -> bytes charged to it
 *   rn, rb         hashes  collection -> retained records, and their bytes
 *   lease          zset    owner -> deadline (ms of Redis' clock)
 *
 * A stored record is `version\nrevision\nbytes\ncharged\nretained\nowner\nstatic\nwill`: the header the scripts read,
 * then JSON made by the client (`static`: the record without version and revision; `will`: the record the will
 * makes, or empty). JSON.stringify never emits a raw newline, so the lines cannot be confused.
 *
 * Keys are built inside the scripts from the prefix (they depend on stored data during a lease expiry): this needs
 * a standalone Redis (or a keyPrefix with a hash tag, `{vnf}:`, that keeps every key in one slot of a cluster).
 */

/** Shared Lua helpers: parsing and writing stored records, and keeping the indexes. */
const COMMON = `
local P = ARGV[1] .. 'reg:'
local function n2s(n) return string.format('%d', n) end
local function parse(s)
  local v, r, b, c, ret, oh, rest = string.match(s, '^(%d+)\\n(%d+)\\n(%d+)\\n(%d+)\\n(%d)\\n([^\\n]*)\\n(.*)$')
  local nl = string.find(rest, '\\n', 1, true)
  return { v = tonumber(v), r = tonumber(r), b = tonumber(b), c = tonumber(c), ret = ret == '1', oh = oh,
    st = string.sub(rest, 1, nl - 1), ws = string.sub(rest, nl + 1) }
end
local function serialize(v, r, b, c, ret, oh, st, ws)
  return table.concat({ n2s(v), n2s(r), n2s(b), n2s(c), ret and '1' or '0', oh, st, ws }, '\\n')
end
local function link(coll, name, rec, p)
  redis.call('INCR', P .. 'n')
  redis.call('HSET', P .. 'r:' .. coll, name, rec)
  redis.call('ZADD', P .. 'i:' .. coll, 0, name)
  if p.ret then
    redis.call('HINCRBY', P .. 'rn', coll, 1)
    redis.call('HINCRBY', P .. 'rb', coll, p.c)
  else
    redis.call('HSET', P .. 'o:' .. p.oh, coll .. '.' .. name, '1')
    redis.call('HINCRBY', P .. 'ob', p.oh, p.c)
  end
end
local function unlink(coll, name, p)
  redis.call('DECR', P .. 'n')
  redis.call('HDEL', P .. 'r:' .. coll, name)
  redis.call('ZREM', P .. 'i:' .. coll, name)
  if p.ret then
    if redis.call('HINCRBY', P .. 'rn', coll, -1) <= 0 then
      redis.call('HDEL', P .. 'rn', coll)
      redis.call('HDEL', P .. 'rb', coll)
    else
      redis.call('HINCRBY', P .. 'rb', coll, -p.c)
    end
  else
    local owned = P .. 'o:' .. p.oh
    redis.call('HDEL', owned, coll .. '.' .. name)
    if redis.call('HLEN', owned) == 0 then redis.call('HDEL', P .. 'ob', p.oh)
    else redis.call('HINCRBY', P .. 'ob', p.oh, -p.c) end
  end
end
local function append(maxLen, rev, kind, rec, prev)
  if prev then
    redis.call('XADD', P .. 'log', 'MAXLEN', maxLen, n2s(rev) .. '-0', 't', kind, 'r', rec, 'p', prev)
  else
    redis.call('XADD', P .. 'log', 'MAXLEN', maxLen, n2s(rev) .. '-0', 't', kind, 'r', rec)
  end
end
`;

/**
 * ARGV: prefix, coll, name, condition ('a' absent, else the version), hasValue ('1'/'0'), owner, bytes, charged,
 * retained ('1'/'0'), static, will, quota entries ('' for no quota, -1 for no limit), quota bytes (-1: no limit),
 * log length.
 * Returns {'c', current|nil} (condition), {'q', entries, bytes} (quota) or {'ok', revision, record}.
 */
export const WRITE = `${COMMON}
local coll, name = ARGV[2], ARGV[3]
local cur = redis.call('HGET', P .. 'r:' .. coll, name)
local c = cur and parse(cur)
local holds
if ARGV[4] == 'a' then holds = not cur else holds = c and c.v == tonumber(ARGV[4]) end
if not holds then return { 'c', cur } end
local maxLen = ARGV[14]
if ARGV[5] == '0' then
  if not cur then return { 'c', cur } end
  unlink(coll, name, c)
  local rev = redis.call('INCR', P .. 'rev')
  append(maxLen, rev, 'removed', cur, nil)
  return { 'ok', rev, cur }
end
local oh, bytes, charged, ret = ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9] == '1'
if ARGV[12] ~= '' then
  local qn, qb = tonumber(ARGV[12]), tonumber(ARGV[13])
  -- Who pays: the owner, or for a retained value its collection (as MemoryRegistryStorage).
  local same = c and c.ret == ret and (ret or c.oh == oh)
  local paid = same and c.c or 0
  local n, b
  if ret then
    n = tonumber(redis.call('HGET', P .. 'rn', coll) or '0')
    b = tonumber(redis.call('HGET', P .. 'rb', coll) or '0')
  else
    n = redis.call('HLEN', P .. 'o:' .. oh)
    b = tonumber(redis.call('HGET', P .. 'ob', oh) or '0')
  end
  local entries = n + (same and 0 or 1)
  if (qn >= 0 and entries > qn) or (qb >= 0 and charged > paid and b - paid + charged > qb) then return { 'q', n, b } end
end
local rev = redis.call('INCR', P .. 'rev')
local p = { v = c and c.v + 1 or 1, r = rev, b = bytes, c = charged, ret = ret, oh = oh }
local rec = serialize(p.v, rev, bytes, charged, ret, oh, ARGV[10], ARGV[11])
if c then unlink(coll, name, c) end
link(coll, name, rec, p)
if c then append(maxLen, rev, 'updated', rec, cur) else append(maxLen, rev, 'added', rec, nil) end
return { 'ok', rev, rec }
`;

/**
 * ARGV: prefix, coll, after ('' for the start), max entries (-1: no limit), max bytes (-1: no limit).
 * Returns {revision, more (0/1), record...}: one page, read at one revision.
 */
export const PAGE = `${COMMON}
local coll, after, maxEntries, maxBytes = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local idx, recs = P .. 'i:' .. coll, P .. 'r:' .. coll
local out, bytes, more = {}, 0, false
local from = after == '' and '-' or ('(' .. after)
local collUnits = #coll / 4
while true do
  local names = redis.call('ZRANGEBYLEX', idx, from, '+', 'LIMIT', 0, 256)
  if #names == 0 then break end
  local got = redis.call('HMGET', recs, unpack(names))
  for i = 1, #names do
    if maxEntries >= 0 and #out >= maxEntries then more = true break end
    local p = parse(got[i])
    -- As MemoryRegistryStorage: the value, the names at their longest escaped (6 bytes a unit), and 64 of framing.
    local size = p.b + (#names[i] / 4 + #p.oh / 4 + collUnits) * 6 + 64
    if #out > 0 and maxBytes >= 0 and bytes + size > maxBytes then more = true break end
    bytes = bytes + size
    out[#out + 1] = got[i]
  end
  if more or #names < 256 then break end
  from = '(' .. names[#names]
end
local rev = tonumber(redis.call('GET', P .. 'rev') or '0')
local reply = { rev, more and 1 or 0 }
for i = 1, #out do reply[#reply + 1] = out[i] end
return reply
`;

/** ARGV: prefix, owner. Returns the owner's non-retained records, unordered. */
export const OWNED_BY = `${COMMON}
local fields = redis.call('HKEYS', P .. 'o:' .. ARGV[2])
local out = {}
for _, f in ipairs(fields) do
  local dot = string.find(f, '.', 1, true)
  local rec = redis.call('HGET', P .. 'r:' .. string.sub(f, 1, dot - 1), string.sub(f, dot + 1))
  if rec then out[#out + 1] = rec end
end
return out
`;

/**
 * ARGV: prefix, revision, limit (-1: no limit). Returns {store revision, truncated (0/1), entries}: the log after
 * `revision`, read with the revision at once.
 */
export const CHANGES_SINCE = `${COMMON}
local cur = tonumber(redis.call('GET', P .. 'rev') or '0')
local asked, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local first = redis.call('XRANGE', P .. 'log', '-', '+', 'COUNT', 1)
local oldest = cur + 1
if first[1] then oldest = tonumber(string.match(first[1][1], '^(%d+)')) end
-- A revision past the store's is a history this store does not hold (it restarted): truncated too.
local truncated = (asked + 1 < oldest and asked < cur) or asked > cur
local entries
if limit == 0 then
  entries = {}
elseif limit > 0 then
  entries = redis.call('XRANGE', P .. 'log', '(' .. n2s(asked) .. '-0', '+', 'COUNT', limit)
else
  entries = redis.call('XRANGE', P .. 'log', '(' .. n2s(asked) .. '-0', '+')
end
return { cur, truncated and 1 or 0, entries }
`;

/** ARGV: prefix, owner, ttl ms. The deadline is on Redis' clock, shared by every broker. */
export const KEEP_ALIVE = `${COMMON}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', P .. 'lease', now + tonumber(ARGV[3]), ARGV[2])
return 1
`;

/**
 * ARGV: prefix, log length, most owners to expire in one run. Pops the owners whose lease ran out and applies their
 * removals and wills, each as a change, in the same script: with several brokers reaping, each expiry happens once.
 * Returns {changes made, ms until the next deadline (-1: none)}.
 */
export const REAP = `${COMMON}
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local maxLen = ARGV[2]
local owners = redis.call('ZRANGEBYSCORE', P .. 'lease', '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local applied = 0
for _, oh in ipairs(owners) do
  redis.call('ZREM', P .. 'lease', oh)
  local owned = P .. 'o:' .. oh
  local fields = redis.call('HKEYS', owned)
  -- Hex with a '.' (below every hex digit) between collection and name sorts by collection, then name.
  table.sort(fields)
  for _, f in ipairs(fields) do
    local dot = string.find(f, '.', 1, true)
    local coll, name = string.sub(f, 1, dot - 1), string.sub(f, dot + 1)
    local cur = redis.call('HGET', P .. 'r:' .. coll, name)
    if cur then
      local c = parse(cur)
      unlink(coll, name, c)
      local rev = redis.call('INCR', P .. 'rev')
      if c.ws ~= '' then
        -- The will's value stays as a retained record without a will, charged to its collection.
        local wb = c.c - c.b
        local p = { v = c.v + 1, r = rev, b = wb, c = wb, ret = true, oh = c.oh }
        local rec = serialize(p.v, rev, wb, wb, true, c.oh, c.ws, '')
        link(coll, name, rec, p)
        append(maxLen, rev, 'updated', rec, cur)
      else
        append(maxLen, rev, 'removed', cur, nil)
      end
      applied = applied + 1
    else
      redis.call('HDEL', owned, f)
    end
  end
end
local nextDelay = -1
local soonest = redis.call('ZRANGE', P .. 'lease', 0, 0, 'WITHSCORES')
if soonest[2] then nextDelay = math.max(0, tonumber(soonest[2]) - now) end
return { applied, nextDelay }
`;
