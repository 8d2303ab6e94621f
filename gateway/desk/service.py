"""The agent's desk: screen pops published on the agent's own Redis channel, in order, and
the agent's current desk state kept in Redis for a page that (re)connects.

    <prefix>:desk:<agent>            pub/sub channel: that agent's DeskMessages, and nobody else's
    <prefix>:desk:<agent>:current    hash: the latest message (version, kind, call_id, message)

One Lua script per message numbers it, keeps it as the agent's current state (with a TTL) and
publishes it, atomically: two gateways publishing to one agent still give the page one order.
The version is max(previous + 1, Redis's clock in ms), so it keeps growing even after the
current state expired. A late withdrawn/ended of an earlier call is still published (the page
ignores other calls' news) but never replaces the state of the call now ringing or talking.

The service knows pops and agents, not sockets: a WebSocket route subscribes to the channel
and sends `current()` first.
"""
from __future__ import annotations

import logging
import re
import time
from typing import Callable

from gateway.desk.pop import DeskKind, DeskMessage, ScreenPop, WithdrawReason

log = logging.getLogger(__name__)

# Agent ids name Redis keys and channels: no pattern characters, separators or spaces.
_AGENT_ID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")

LIVE_TTL = 12 * 3600  # a ringing or answered call: longer than any call
WITHDRAWN_TTL = 120  # long enough for a reloading page to show why the pop went away
ENDED_TTL = 3600  # the after-call work of the call that ended

_PUBLISH = """
local current = KEYS[1]
local kind, call_id, body, ttl = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local previous = tonumber(redis.call('HGET', current, 'version') or '0') or 0
local version = math.max(previous + 1, now_ms)
local message = '{"version":' .. string.format('%d', version) .. ',' .. string.sub(body, 2)
local keep = true
if kind == 'withdrawn' or kind == 'ended' then
  local held = redis.call('HMGET', current, 'kind', 'call_id')
  if (held[1] == 'offer' or held[1] == 'answered') and held[2] ~= call_id then keep = false end
end
if keep then
  redis.call('HSET', current, 'version', string.format('%d', version), 'kind', kind, 'call_id', call_id,
             'message', message)
  redis.call('EXPIRE', current, ttl)
else
  redis.call('HSET', current, 'version', string.format('%d', version))
end
redis.call('PUBLISH', ARGV[1], message)
return version
"""


def desk_channel(prefix: str, agent_id: str) -> str:
    return f"{prefix}:desk:{agent_id}"


def current_key(prefix: str, agent_id: str) -> str:
    return f"{desk_channel(prefix, agent_id)}:current"


def checked_agent_id(agent_id: str) -> str:
    if not isinstance(agent_id, str) or not _AGENT_ID.fullmatch(agent_id):
        raise ValueError(f"not an agent id: {str(agent_id)[:80]!r}")
    return agent_id


class DeskService:
    def __init__(self, redis, prefix: str, *, clock: Callable[[], float] = time.time, live_ttl: int = LIVE_TTL,
                 withdrawn_ttl: int = WITHDRAWN_TTL, ended_ttl: int = ENDED_TTL):
        self.redis = redis
        self.prefix = prefix
        self.clock = clock
        self._ttl = {DeskKind.OFFER: live_ttl, DeskKind.ANSWERED: live_ttl, DeskKind.WITHDRAWN: withdrawn_ttl,
                     DeskKind.ENDED: ended_ttl}
        self._publish = redis.register_script(_PUBLISH)

    # -- what the call layer reports (gateway.calls.tracker's DeskPort) -------------------------
    async def offer(self, agent_id: str, pop: ScreenPop) -> DeskMessage:
        """The agent's phone rings: the pop, before they can pick up."""
        return await self.publish(DeskKind.OFFER, agent_id, pop)

    async def answered(self, agent_id: str, pop: ScreenPop) -> DeskMessage:
        return await self.publish(DeskKind.ANSWERED, agent_id, pop)

    async def withdrawn(self, agent_id: str, pop: ScreenPop, reason: WithdrawReason) -> DeskMessage:
        """The call is no longer this agent's: the page takes the pop down with a note saying why."""
        return await self.publish(DeskKind.WITHDRAWN, agent_id, pop, reason)

    async def ended(self, agent_id: str, pop: ScreenPop) -> DeskMessage:
        """The agent's call is over: the page goes to after-call work for it."""
        return await self.publish(DeskKind.ENDED, agent_id, pop)

    async def publish(self, kind: DeskKind, agent_id: str, pop: ScreenPop,
                      reason: WithdrawReason | None = None) -> DeskMessage:
        checked_agent_id(agent_id)
        message = DeskMessage(kind=kind, agent_id=agent_id, call_id=pop.call_id, at=round(self.clock(), 3),
                              reason=reason, pop=pop)
        body = message.model_dump_json(exclude={"version"})
        version = await self._publish(keys=[current_key(self.prefix, agent_id)],
                                      args=[desk_channel(self.prefix, agent_id), kind.value, pop.call_id, body,
                                            self._ttl[kind]])
        return message.model_copy(update={"version": int(version)})

    # -- what a (re)connecting page asks ----------------------------------------------------
    async def current(self, agent_id: str) -> DeskMessage | None:
        """The agent's desk as it is now: the call ringing or in progress, the one in after-call
        work, or a pop withdrawn a moment ago; None when there is nothing to show."""
        raw = await self.redis.hget(current_key(self.prefix, checked_agent_id(agent_id)), "message")
        if raw is None:
            return None
        try:
            return DeskMessage.model_validate_json(raw)
        except ValueError:
            log.warning("agent %s: unreadable desk state dropped", agent_id)
            return None

    def channel(self, agent_id: str) -> str:
        """The channel a WebSocket route subscribes to for this agent (after checking the session)."""
        return desk_channel(self.prefix, checked_agent_id(agent_id))
