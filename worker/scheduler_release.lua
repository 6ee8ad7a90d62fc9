-- KEYS: leader key. ARGV: our token. Lets go of the lead only if it is ours; 1 = let go.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
