/*
 * The router's Lua scripts: each runs atomically in Redis, so two brokers claiming one eva at once see one outcome.
 * Route hashes hold id, node and session. ARGV ttl: milliseconds, or '' for a claim that never runs out.
 */

/**
 * KEYS: this role's route, the other role's route. ARGV: id, node, session, proof, has-proof ('1'/'0'), ttl.
 * Returns {'in-use'}, {'claimed', session} or {'replaced', session, previous id, previous node}.
 */
export const CLAIM = `
local function proves(session)
  return ARGV[5] == '1' and redis.sha1hex(ARGV[4]) == redis.sha1hex(session)
end
local function hold(session)
  redis.call('HSET', KEYS[1], 'id', ARGV[1], 'node', ARGV[2], 'session', session)
  if ARGV[6] == '' then redis.call('PERSIST', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[6]) end
end
local other = redis.call('HMGET', KEYS[2], 'session')[1]
if other and not proves(other) then return {'in-use'} end
local current = redis.call('HMGET', KEYS[1], 'id', 'node', 'session')
if not current[1] then
  local session = other or ARGV[3]
  hold(session)
  return {'claimed', session}
end
if proves(current[3]) then
  hold(current[3])
  return {'replaced', current[3], current[1], current[2]}
end
return {'in-use'}
`;

/** KEYS: the route. ARGV: the holder id that may free it. */
export const RELEASE = `
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
`;

/** KEYS: routes. ARGV: ttl, then one holder id per route; a route another holder took over is left alone. */
export const RENEW = `
for i, key in ipairs(KEYS) do
  if redis.call('HGET', key, 'id') == ARGV[i + 1] then
    if ARGV[1] == '' then redis.call('PERSIST', key) else redis.call('PEXPIRE', key, ARGV[1]) end
  end
end
return 0
`;

/**
 * KEYS: routes. ARGV: per route its holder id, node, session and ttl. Each route missing (Redis restarted empty) is
 * made again with its TTL in one step; a route someone claimed meanwhile is left to them.
 */
export const RECLAIM = `
for i, key in ipairs(KEYS) do
  local at = (i - 1) * 4
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'id', ARGV[at + 1], 'node', ARGV[at + 2], 'session', ARGV[at + 3])
    if ARGV[at + 4] ~= '' then redis.call('PEXPIRE', key, ARGV[at + 4]) end
  end
end
return 0
`;
