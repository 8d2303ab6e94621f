-- Write one agent's state and/or one call's record, all or nothing, if nobody changed them
-- since they were read (optimistic concurrency on their version), then publish the events.
-- Every ACD change other than the reservation goes through here.
--
-- KEYS[1] agent hash   KEYS[2] call hash   KEYS[3] queue the call leaves   KEYS[4] queue it joins
-- KEYS[5] reservation log (stream)   KEYS[6] set of known agent ids   KEYS[7] set of live call ids
-- KEYS[8] agent state log (stream, see state_log.py)
-- ARGV[1] events channel   ARGV[2] log length cap
-- ARGV[3] agent id ('' = agent untouched)   ARGV[4] expected agent version
-- ARGV[5] agent fields (JSON object of strings)
-- ARGV[6] call id ('' = call untouched)   ARGV[7] expected call version
-- ARGV[8] call op: 'put' or 'delete'   ARGV[9] call data (JSON)   ARGV[10] new call version
-- ARGV[11] call state   ARGV[12] score in the queue it joins ('' = joins none)
-- ARGV[13] '1' to join at the head of that queue (ahead of every waiting call)
-- ARGV[14] log entry (JSON object) or ''
-- ARGV[15] agent state log entry (JSON object) or '' (the agent's state did not change)
-- ARGV[16] agent state log length cap
-- ARGV[17..] events to publish; the text "__RANK__" in them (and in the call data) becomes the score used
-- Returns {1, score} on success, {0, 'agent'} / {0, 'call'} on a version conflict.

if ARGV[3] ~= '' then
  local version = tonumber(redis.call('HGET', KEYS[1], 'version')) or 0
  if version ~= tonumber(ARGV[4]) then return {0, 'agent'} end
end
if ARGV[6] ~= '' then
  local version = tonumber(redis.call('HGET', KEYS[2], 'version')) or 0
  if version ~= tonumber(ARGV[7]) then return {0, 'call'} end
end

local score = ''
if ARGV[12] ~= '' then
  local wanted = tonumber(ARGV[12])
  if ARGV[13] == '1' then
    local first = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')
    if first[2] and first[1] ~= ARGV[6] and tonumber(first[2]) - 1 < wanted then
      wanted = tonumber(first[2]) - 1
    end
  end
  score = string.format('%.17g', wanted)
end

if ARGV[3] ~= '' then
  local fields = cjson.decode(ARGV[5])
  local flat = {}
  for name, value in pairs(fields) do
    flat[#flat + 1] = name
    flat[#flat + 1] = value
  end
  redis.call('HSET', KEYS[1], unpack(flat))
  redis.call('SADD', KEYS[6], ARGV[3])
end

if ARGV[6] ~= '' then
  if ARGV[8] == 'delete' then
    redis.call('DEL', KEYS[2])
    redis.call('SREM', KEYS[7], ARGV[6])
  else
    local data = string.gsub(ARGV[9], '"__RANK__"', score)
    redis.call('HSET', KEYS[2], 'data', data, 'version', ARGV[10], 'state', ARGV[11])
    redis.call('SADD', KEYS[7], ARGV[6])
  end
  redis.call('ZREM', KEYS[3], ARGV[6])
  if score ~= '' then
    redis.call('ZADD', KEYS[4], score, ARGV[6])
  end
end

-- A JSON object as one entry of a capped stream ('' = nothing to log).
local function log_entry(stream, cap, json)
  if json == '' then
    return
  end
  local flat = {}
  for name, value in pairs(cjson.decode(json)) do
    flat[#flat + 1] = name
    flat[#flat + 1] = tostring(value)
  end
  redis.call('XADD', stream, 'MAXLEN', '~', cap, '*', unpack(flat))
end

log_entry(KEYS[5], ARGV[2], ARGV[14])
log_entry(KEYS[8], ARGV[16], ARGV[15])

for i = 17, #ARGV do
  local message = string.gsub(ARGV[i], '"__RANK__"', score)
  redis.call('PUBLISH', ARGV[1], message)
end
return {1, score}
