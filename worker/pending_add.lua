-- KEYS: pending, armed, leases; ARGV: lease key prefix, now ms, armed ttl ms, then
-- occurred-at, id pairs. Returns 1 when the caller must send a job.
reclaim(KEYS[1], KEYS[3], ARGV[1], tonumber(ARGV[2]))
for i = 4, #ARGV, 2 do
  redis.call('zadd', KEYS[1], 'LT', ARGV[i], ARGV[i + 1])
end
if redis.call('zcard', KEYS[1]) == 0 then
  return 0
end
if redis.call('set', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then
  return 1
end
return 0
