-- KEYS: window zset (or ""), daily hash, block key.
-- ARGV: window limit, window interval ms, daily default limit (0 = none), reserve share,
--       bulk (0/1), day stamp, unique member, milliseconds the daily figures are kept.
-- Returns {code, wait_ms}: 0 taken, 1 wait, 2 daily budget spent.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local daily_default = tonumber(ARGV[3])
if daily_default > 0 then
  if redis.call('HGET', KEYS[2], 'day') ~= ARGV[6] then
    redis.call('DEL', KEYS[2])
    redis.call('HSET', KEYS[2], 'day', ARGV[6], 'used', 0)
    redis.call('PEXPIRE', KEYS[2], ARGV[8])
  end
  local used = tonumber(redis.call('HGET', KEYS[2], 'used') or '0')
  local limit = tonumber(redis.call('HGET', KEYS[2], 'limit') or daily_default)
  local threshold = limit
  if ARGV[5] == '1' then threshold = math.floor(limit * (1 - tonumber(ARGV[4]))) end
  if used >= threshold then return {2, 0} end
end
local blocked = redis.call('PTTL', KEYS[3])
if blocked > 0 then return {1, blocked} end
if KEYS[1] ~= '' then
  local interval = tonumber(ARGV[2])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - interval)
  if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    return {1, math.max(tonumber(oldest[2]) + interval - now, 1)}
  end
  redis.call('ZADD', KEYS[1], now, ARGV[7])
  redis.call('PEXPIRE', KEYS[1], interval)
end
redis.call('HINCRBY', KEYS[2], 'used', 1)
return {0, 0}
