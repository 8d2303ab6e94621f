"""A restarted gateway takes back the callers it left waiting, or hands them to the fallback.

The ACD's queue lives in Redis and survives a restart, so a waiting caller keeps their place.
What the call layer knew (caller number, IVR path, when the call began) is kept beside it as a
call card, written before the call is queued and dropped when the call's activity is written.
After every AMI (re)connect the gateway compares Asterisk's live channels with its cards:

- a card whose caller is still on the line: the call is adopted (the tracker follows it again
  and it ends as one activity, as if nothing had happened);
- a card whose caller left meanwhile: the call is ended now, as one activity, and its place in
  the queue is freed;
- a caller on hold whom this gateway owns but has no card for (it died between the AGI and the
  queue): sent to the fallback queue at once rather than after the hold's grace.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Mapping

from gateway.ami.errors import AmiError
from gateway.calls.hold import OWNER_VARIABLE, owner_token
from gateway.calls.model import Call, CallPhase
from gateway.crm.activities import route_dict
from gateway.routing import RouteRequest

log = logging.getLogger(__name__)

HOLD_CONTEXTS = ("ctigw-hold", "ctigw-announce")
FALLBACK_CONTEXT = "ctigw-fallback"
OUTBOUND_CONTEXT = "ctigw-outbound"
CARD_TTL_SECONDS = 24 * 3600  # no caller waits a day; a card left by a crash expires


class CallCards:
    """One JSON card per queued (or agent-dialled) call in Redis, and a set of the cards each
    instance owns."""

    def __init__(self, redis, key_prefix: str, instance: str):
        self.redis = redis
        self.prefix = key_prefix
        self.instance = instance
        self._owned = f"{key_prefix}:cards:{instance}"

    def _key(self, linkedid: str) -> str:
        return f"{self.prefix}:card:{linkedid}"

    async def save(self, call: Call) -> None:
        card = {"linkedid": call.linkedid, "uniqueid": call.caller_uniqueid, "channel": call.caller_channel,
                "raw_ani": call.raw_ani, "dnis": call.dnis, "started_at": call.started_at,
                "queued_at": call.queued_at, "queue": call.queue, "ivr_path": list(call.ivr_path),
                "ivr_inputs": dict(call.ivr_inputs), "ivr_outcome": call.ivr_outcome,
                "route": route_dict(call.route), "owner": self.instance, "direction": call.direction,
                "agent_id": call.agent_id if call.direction == "outbound" else None,
                "transfers": [{**t} for t in call.transfers]}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._key(call.linkedid), json.dumps(card), ex=CARD_TTL_SECONDS)
            pipe.sadd(self._owned, call.linkedid)
            await pipe.execute()

    async def drop(self, linkedid: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(linkedid))
            pipe.srem(self._owned, linkedid)
            await pipe.execute()

    async def owned(self) -> list[dict[str, Any]]:
        """Every card this instance owns (expired ones are forgotten on the way)."""
        ids = sorted(m.decode() if isinstance(m, bytes) else m for m in await self.redis.smembers(self._owned))
        if not ids:
            return []
        raw = await self.redis.mget([self._key(i) for i in ids])
        expired = [i for i, value in zip(ids, raw) if value is None]
        if expired:
            await self.redis.srem(self._owned, *expired)
        return [json.loads(value) for value in raw if value is not None]


def call_from_card(card: Mapping[str, Any], caller) -> Call:
    call = Call(linkedid=card["linkedid"], caller_uniqueid=card["uniqueid"], caller_channel=card["channel"],
                raw_ani=card["raw_ani"], dnis=card["dnis"], started_at=card["started_at"], caller=caller)
    call.ivr_path = list(card.get("ivr_path") or [])
    call.ivr_inputs = dict(card.get("ivr_inputs") or {})
    call.ivr_outcome = card.get("ivr_outcome")
    call.route = RouteRequest(**card["route"]) if card.get("route") else None
    call.queue = card.get("queue")
    call.queued_at = card.get("queued_at")
    call.phase = CallPhase.QUEUED
    call.ivr_running = False
    call.transfers = list(card.get("transfers") or [])
    call.transferred = bool(call.transfers)
    if card.get("direction") == "outbound":  # the agent's click-to-dial: their leg is the call's
        call.direction = "outbound"
        call.agent_id = card.get("agent_id")
        call.phase = CallPhase.RINGING
    return call


@dataclass
class AdoptionReport:
    adopted: int = 0
    ended: int = 0
    sent_to_fallback: int = 0


class CallAdopter:
    """Runs after the tracker's own resync, on every AMI (re)connect."""

    def __init__(self, *, cards: CallCards, tracker, acd, lookup, ami, clock):
        self.cards = cards
        self.tracker = tracker
        self.acd = acd
        self.lookup = lookup  # raw caller number -> the CRM's caller view
        self.ami = ami
        self.clock = clock
        self.owner = owner_token(cards.instance)

    async def adopt(self, channels: list[Mapping[str, str]]) -> AdoptionReport:
        report = AdoptionReport()
        live = {ch.get("Uniqueid"): ch for ch in channels if ch.get("Uniqueid")}
        for card in await self.cards.owned():
            if card["linkedid"] in self.tracker.calls:
                continue  # followed all along (an AMI blip, not a restart)
            call = call_from_card(card, await self._caller(card["raw_ani"]))
            channel = live.get(call.caller_uniqueid)
            queued = await self.acd.store.load_call(call.linkedid)
            if channel is None:
                # The caller left while nobody was listening: one activity now, place freed.
                self._resume(call, {}, queued)
                self.tracker.adopt(call)
                await self.tracker.end(call)
                report.ended += 1
            elif queued is None and channel.get("Context") in HOLD_CONTEXTS:
                # On hold but not in the queue any more: nobody would ever fetch them.
                self.tracker.adopt(call)
                call.queue_exit = "fallback"
                await self._to_fallback(channel, "its queue entry is gone")
                report.sent_to_fallback += 1
            else:
                self._resume(call, channel, queued)
                self.tracker.adopt(call)
                report.adopted += 1
        for uniqueid, channel in live.items():
            if channel.get("Context") in HOLD_CONTEXTS and channel.get("Linkedid") not in self.tracker.calls:
                if await self._owned_here(channel):
                    await self._to_fallback(channel, "this gateway has no record of it")
                    report.sent_to_fallback += 1
        if report.adopted or report.ended or report.sent_to_fallback:
            log.info("adopted %d waiting call(s), ended %d that left meanwhile, sent %d to the fallback queue",
                     report.adopted, report.ended, report.sent_to_fallback)
        return report

    def _resume(self, call: Call, channel: Mapping[str, str], queued) -> None:
        if call.direction == "outbound":
            if channel.get("BridgeId"):  # talking to the customer: the answer's time is lost, now is the bound
                call.phase = CallPhase.CONNECTED
                call.agent_picked_up_at = call.answered_at = self.clock()
            elif channel.get("Context") == OUTBOUND_CONTEXT:
                call.agent_picked_up_at = self.clock()  # the agent's phone answered; the customer's rings
            return
        state = getattr(getattr(queued, "state", None), "value", "waiting")
        if state in ("reserved", "ringing", "connected") and queued.agent_id:
            call.agent_id = queued.agent_id
            call.phase = CallPhase.RINGING
            if state == "connected" or channel.get("BridgeId"):
                # The answer happened while we were away: its time is lost, now is the bound.
                call.phase = CallPhase.CONNECTED
                call.answered_at = self.clock()

    async def _caller(self, raw_ani: str):
        try:
            return await self.lookup(raw_ani)
        except Exception:
            log.exception("CRM lookup failed while adopting a call; it goes on as an unknown caller")
            return None

    async def _owned_here(self, channel: Mapping[str, str]) -> bool:
        try:
            reply = await self.ami.action("Getvar", Channel=channel["Channel"], Variable=OWNER_VARIABLE)
        except AmiError:
            return False  # gone meanwhile
        owner = reply.get("Value") or ""
        return owner in ("", self.owner)

    async def _to_fallback(self, channel: Mapping[str, str], why: str) -> None:
        log.warning("caller on %s is on hold and %s: sending them to the fallback queue", channel.get("Channel"), why)
        try:
            await self.ami.action("Redirect", Channel=channel["Channel"], Context=FALLBACK_CONTEXT, Exten="s",
                                  Priority="1")
        except AmiError as exc:
            # The hold's own liveness check still takes them there within its grace.
            log.warning("could not redirect %s to the fallback queue: %s", channel.get("Channel"), exc)
