-- KEYS: pending, armed, leases; ARGV: lease key prefix, now ms, armed ttl ms.
-- Returns 1 when ids wait (armed again for the job the caller sends), else 0 (disarmed).
reclaim(KEYS[1], KEYS[3], ARGV[1], tonumber(ARGV[2]))
if redis.call('zcard', KEYS[1]) > 0 then
  redis.call('set', KEYS[2], '1', 'PX', ARGV[3])
  return 1
end
redis.call('del', KEYS[2])
return 0
