-- KEYS: pending, armed, leases; ARGV: lease key prefix, now ms, token, deadline ms, count.
-- Returns {ids left pending, id, id, ...}.
local prefix, token = ARGV[1], ARGV[3]
reclaim(KEYS[1], KEYS[3], prefix, tonumber(ARGV[2]))
local popped = redis.call('zpopmin', KEYS[1], tonumber(ARGV[5]))
local result = {0}
if #popped > 0 then
  local entries = {}
  for i = 1, #popped, 2 do
    table.insert(entries, popped[i + 1])
    table.insert(entries, popped[i])
    table.insert(result, popped[i])
  end
  redis.call('zadd', prefix .. token, unpack(entries))
  redis.call('zadd', KEYS[3], ARGV[4], token)
end
result[1] = redis.call('zcard', KEYS[1])
return result
