-- KEYS: leases, lease; ARGV: token.
redis.call('del', KEYS[2])
redis.call('zrem', KEYS[1], ARGV[1])
return 1
