"""Turns AMI events into the tracker's call events, and ACD decisions into AMI actions.

This is the only place where call handling meets the AMI wire format.
"""
from __future__ import annotations

import logging
import time

from gateway.calls.events import ChannelHungUp, DialFinished, DialStarted, HoldChanged

log = logging.getLogger(__name__)

CONNECT_CONTEXT = "ctigw-connect"


def _timestamp(msg) -> float:
    # manager.conf timestampevents=yes adds it; fall back to arrival time.
    try:
        return float(msg.get("Timestamp"))
    except (TypeError, ValueError):
        return time.time()


def _endpoint_of(msg) -> str:
    """'PJSIP/1001-0000002a' -> '1001' (DialString is the fallback: '1001')."""
    dest = msg.get("DestChannel") or ""
    if "/" in dest:
        return dest.split("/", 1)[1].rsplit("-", 1)[0]
    return (msg.get("DialString") or "").split("/")[-1]


def to_call_event(msg):
    """An AMI event as a tracker event, or None when it is not one the tracker follows."""
    name = msg.get("Event")
    linkedid = msg.get("Linkedid") or ""
    if not linkedid:
        return None
    if name == "DialBegin":
        return DialStarted(linkedid, _endpoint_of(msg), msg.get("DestChannel") or "", _timestamp(msg))
    if name == "DialEnd":
        return DialFinished(linkedid, _endpoint_of(msg), msg.get("DialStatus") or "", _timestamp(msg))
    if name == "Hangup":
        return ChannelHungUp(linkedid, msg.get("Uniqueid") or "", msg.get("Channel") or "",
                             msg.get("Cause") or "", _timestamp(msg))
    if name in ("MusicOnHoldStart", "MusicOnHoldStop"):
        return HoldChanged(linkedid, msg.get("Uniqueid") or "", name == "MusicOnHoldStart", _timestamp(msg))
    return None


FOLLOWED_EVENTS = ("DialBegin", "DialEnd", "Hangup", "MusicOnHoldStart", "MusicOnHoldStop")


def attach(client, tracker) -> None:
    """Feed the tracker from an AmiClient, and resync it after every (re)connect."""

    async def on_event(msg):
        event = to_call_event(msg)
        if event is not None:
            await tracker.handle(event)

    for name in FOLLOWED_EVENTS:
        client.on(name, on_event)

    async def resync():
        _, channels = await client.action_list("CoreShowChannels")
        live = {ch.get("Uniqueid") for ch in channels if ch.get("Uniqueid")}
        ended = await tracker.resync(live)
        log.info("resync after AMI (re)connect: %d live channels, %d calls ended meanwhile", len(live), ended)

    client.on_connected(resync)


class AmiConnector:
    """The ACD's way to put a waiting caller through to an agent: Setvar + Redirect."""

    def __init__(self, client, ring_timeout: int):
        self.client = client
        self.ring_timeout = ring_timeout

    async def connect(self, call, agent) -> None:
        channel = call.channel
        await self.client.action("Setvar", Channel=channel, Variable="CTIGW_RING_TIMEOUT", Value=str(self.ring_timeout))
        await self.client.action("Redirect", Channel=channel, Context=CONNECT_CONTEXT, Exten=agent.endpoint, Priority="1")
