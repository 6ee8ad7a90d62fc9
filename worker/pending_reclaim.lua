-- Put in front of the add, take and hand-over scripts: gives the ids of expired leases
-- back to the pending set (each at its earliest occurrence).
--
-- Keys of one (connection, object type), from KEY_PREFIX + "<connection>:<type>":
--   that key            sorted set: pending id -> occurred-at ms (the earliest kept)
--   ...:armed           string with an expiry: a job is on its way for the pending ids
--   ...:leases          sorted set: lease token -> deadline ms
--   ...:lease:<token>   sorted set: the ids of that lease, with their occurred-at
local function reclaim(pending, leases, prefix, now)
  local expired = redis.call('zrangebyscore', leases, '-inf', now)
  for _, token in ipairs(expired) do
    local held = redis.call('zrange', prefix .. token, 0, -1, 'WITHSCORES')
    for i = 1, #held, 2 do
      redis.call('zadd', pending, 'LT', held[i + 1], held[i])
    end
    redis.call('del', prefix .. token)
    redis.call('zrem', leases, token)
  end
  return #expired
end
