/*
 * The bus's Lua scripts. Times are Redis's own clock (TIME), so brokers with skewed clocks agree on who expired.
 * KEYS[1] is the sorted set of live brokers (node → lease deadline, ms); ARGV[1] the prefix of the brokers' streams.
 * A `down` is written in the bus's batch format (busCodec.ts): tag 3, a 32-bit big-endian length, the JSON.
 */
const NOW = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
`;

const TELL_DOWN = `
local function tellDown(node, live)
  local json = cjson.encode({t = 'down', node = node})
  local entry = struct.pack('>BI4', 3, #json) .. json
  for _, other in ipairs(live) do
    if other ~= node then redis.call('XADD', ARGV[1] .. other, '*', 'm', entry) end
  end
end
`;

/**
 * ARGV: streams prefix, node, lease ms. Grants or renews the node's lease; returns 1 when the node was not live (a
 * new lease). A lease that ran out but was not reaped yet (the broker stalled past it and renews first) is reaped
 * here, as REAP would: the live brokers are told it is down and its stream goes, so both sides of each connection
 * with it hear the loss.
 */
export const LEASE = `${NOW}${TELL_DOWN}
local before = redis.call('ZSCORE', KEYS[1], ARGV[2])
if before and tonumber(before) > now then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
  return 0
end
if before then
  redis.call('ZREM', KEYS[1], ARGV[2])
  redis.call('DEL', ARGV[1] .. ARGV[2])
  tellDown(ARGV[2], redis.call('ZRANGE', KEYS[1], 0, -1))
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
return 1
`;

/** ARGV: streams prefix, node. The live brokers are told the node is down, its lease kept: what was in flight between them may be lost. */
export const ANNOUNCE_LOSS = `${TELL_DOWN}
tellDown(ARGV[2], redis.call('ZRANGE', KEYS[1], 0, -1))
return 0
`;

/**
 * ARGV: streams prefix. Removes every broker whose lease ran out, deletes its stream and tells each live broker it
 * is down — atomically, so with every broker reaping, each dead one is reaped exactly once. Returns the dead.
 */
export const REAP = `${NOW}${TELL_DOWN}
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
if #dead == 0 then return dead end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local live = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, node in ipairs(dead) do
  redis.call('DEL', ARGV[1] .. node)
  tellDown(node, live)
end
return dead
`;

/** ARGV: streams prefix, node. The node leaves: its lease and stream go, the live brokers are told it is down. */
export const LEAVE = `${TELL_DOWN}
if redis.call('ZREM', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('DEL', ARGV[1] .. ARGV[2])
tellDown(ARGV[2], redis.call('ZRANGE', KEYS[1], 0, -1))
return 1
`;
