-- KEYS: window zset. ARGV: ticket, interval ms. Re-stamps a taken request with the time it
-- was answered (and keeps the set alive as long as that request counts).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local changed = redis.call('ZADD', KEYS[1], 'XX', 'CH', now, ARGV[1])
if changed > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return changed
