-- Book an available agent for a waiting call, atomically. Two gateway instances (or two
-- coroutines of one) may pick the same agent or the same call from their in-memory index;
-- only the first reservation to reach Redis wins, the other gets a conflict and re-matches.
--
-- KEYS[1] agent hash   KEYS[2] call hash   KEYS[3] the call's queue (sorted set of waiting calls)
-- KEYS[4] reservation log (stream)   KEYS[5] agent state log (stream, see state_log.py)
-- ARGV[1] events channel   ARGV[2] agent id   ARGV[3] agent version the index saw
-- ARGV[4] call id   ARGV[5] call version the index saw
-- ARGV[6] agent fields after the reservation (JSON object of strings, version included)
-- ARGV[7] call data after the reservation (JSON)   ARGV[8] new call version
-- ARGV[9] instance   ARGV[10] now   ARGV[11] log length cap
-- ARGV[12] the agent's state log entry (JSON object)   ARGV[13] state log length cap
-- ARGV[14..] events to publish on success
-- Returns {1} when booked, {0, 'agent'} or {0, 'call'} when the index was out of date.

local agent = redis.call('HMGET', KEYS[1], 'state', 'version')
if agent[1] ~= 'available' or (tonumber(agent[2]) or 0) ~= tonumber(ARGV[3]) then
  return {0, 'agent'}
end
local call = redis.call('HMGET', KEYS[2], 'state', 'version')
if call[1] ~= 'waiting' or (tonumber(call[2]) or 0) ~= tonumber(ARGV[5])
   or not redis.call('ZSCORE', KEYS[3], ARGV[4]) then
  return {0, 'call'}
end

local fields = cjson.decode(ARGV[6])
local flat = {}
for name, value in pairs(fields) do
  flat[#flat + 1] = name
  flat[#flat + 1] = value
end
redis.call('HSET', KEYS[1], unpack(flat))
redis.call('HSET', KEYS[2], 'data', ARGV[7], 'version', ARGV[8], 'state', 'reserved')
redis.call('ZREM', KEYS[3], ARGV[4])
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[11], '*', 'op', 'reserve', 'agent', ARGV[2],
           'call', ARGV[4], 'agent_version', fields['version'], 'instance', ARGV[9], 'at', ARGV[10])
local entry = cjson.decode(ARGV[12])
local logged = {}
for name, value in pairs(entry) do
  logged[#logged + 1] = name
  logged[#logged + 1] = tostring(value)
end
redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[13], '*', unpack(logged))
for i = 14, #ARGV do
  redis.call('PUBLISH', ARGV[1], ARGV[i])
end
return {1}
