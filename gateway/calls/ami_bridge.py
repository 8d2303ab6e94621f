"""Turns AMI events into the tracker's call events, and ACD decisions into AMI actions.

This is the only place where call handling meets the AMI wire format.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref

from gateway.calls.events import CallTransferred, ChannelHungUp, DialFinished, DialStarted, HoldChanged

log = logging.getLogger(__name__)

CONNECT_CONTEXT = "ctigw-connect"
ANNOUNCE_CONTEXT = "ctigw-announce"


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


def _transferred(msg):
    """A successful blind or attended transfer, as the caller's (transferee's) call."""
    if msg.get("Result") != "Success":
        return None
    linkedid = msg.get("TransfereeLinkedid") or msg.get("OrigTransfererLinkedid") or msg.get("TransfererLinkedid")
    return CallTransferred(linkedid, _timestamp(msg)) if linkedid else None


def to_call_event(msg):
    """An AMI event as a tracker event, or None when it is not one the tracker follows."""
    name = msg.get("Event")
    if name in ("BlindTransfer", "AttendedTransfer"):
        return _transferred(msg)
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


FOLLOWED_EVENTS = ("DialBegin", "DialEnd", "Hangup", "MusicOnHoldStart", "MusicOnHoldStop",
                   "BlindTransfer", "AttendedTransfer")


def attach(client, tracker, adopter=None) -> None:
    """Feed the tracker from an AmiClient, and resync it after every (re)connect: calls that
    ended meanwhile are ended, and (with an adopter) callers left waiting by an earlier run
    are taken back or sent to the fallback queue."""

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
        if adopter is not None:
            await adopter.adopt(channels)

    client.on_connected(resync)


class AmiConnector:
    """The ACD's hands on Asterisk: put a waiting caller through to an agent (Setvar +
    Redirect to the connect context), and play them their position and wait.

    An announcement is a Redirect too, so the two are serialised per channel, and once a
    connect has started on a channel it gets no more announcements: an announcement that
    landed after the connect would pull the caller out of a ringing Dial.
    """

    CONNECT_STARTED_MEMORY = 20_000  # channels remembered; channel names are unique per call

    def __init__(self, client, ring_timeout: int):
        self.client = client
        self.ring_timeout = ring_timeout
        self._connect_started: dict[str, None] = {}  # an insertion-ordered, bounded set
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def _lock(self, channel: str) -> asyncio.Lock:
        lock = self._locks.get(channel)
        if lock is None:
            lock = self._locks[channel] = asyncio.Lock()
        return lock

    async def connect(self, call, agent) -> None:
        channel = call.channel
        self._connect_started[channel] = None  # before any await: no announcement from now on
        while len(self._connect_started) > self.CONNECT_STARTED_MEMORY:
            del self._connect_started[next(iter(self._connect_started))]
        async with self._lock(channel):
            await self.client.action("Setvar", Channel=channel, Variable="CTIGW_RING_TIMEOUT",
                                     Value=str(self.ring_timeout))
            await self.client.action("Redirect", Channel=channel, Context=CONNECT_CONTEXT,
                                     Exten=agent.endpoint, Priority="1")

    async def announce(self, call, position: int, estimated_wait: float | None) -> None:
        channel = call.channel
        lock = self._lock(channel)
        async with lock:
            if channel in self._connect_started:
                return
            minutes = max(1, math.ceil((estimated_wait or 0) / 60))
            await self.client.action("Setvar", Channel=channel, Variable="CTIGW_POSITION", Value=str(position))
            await self.client.action("Setvar", Channel=channel, Variable="CTIGW_WAIT_MINUTES", Value=str(minutes))
            await self.client.action("Redirect", Channel=channel, Context=ANNOUNCE_CONTEXT, Exten="s",
                                     Priority="1")
