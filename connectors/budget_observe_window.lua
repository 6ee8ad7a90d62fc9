-- KEYS: window zset. ARGV: requests the CRM counts in its window, interval ms, member prefix.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - interval)
local missing = tonumber(ARGV[1]) - redis.call('ZCARD', KEYS[1])
for i = 1, missing do redis.call('ZADD', KEYS[1], now, ARGV[3] .. i) end
if missing > 0 then redis.call('PEXPIRE', KEYS[1], interval) end
return missing
