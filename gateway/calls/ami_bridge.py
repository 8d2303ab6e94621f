"""Turns AMI events into the tracker's call events, and ACD decisions into AMI actions.

This is the only place where call handling meets the AMI wire format.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
import weakref
from typing import Protocol

from gateway.ami.errors import AmiNotConnected, AmiTimeout
from gateway.calls.events import (CallTransferred, ChannelHungUp, DialFinished, DialStarted, HoldChanged,
                                  OriginateFailed)
from gateway.calls.hold import OWNER_VARIABLE

log = logging.getLogger(__name__)

CONNECT_CONTEXT = "ctigw-connect"
ANNOUNCE_CONTEXT = "ctigw-announce"
FALLBACK_CONTEXT = "ctigw-fallback"
VOICEMAIL_CONTEXT = "ctigw-queue-voicemail"
CALLBACK_CONTEXT = "ctigw-queue-callback"
HOLD_CONTEXT = "ctigw-hold"
OUTBOUND_CONTEXT = "ctigw-outbound"
DEFAULT_VOICEMAIL_DIR = "/var/spool/asterisk/ctigw-voicemail"
FALLBACK_PERSISTENCE = 300.0  # seconds the connector keeps trying to reach AMI to get a caller out


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


class QueueExits(Protocol):
    """The call layer's side of the ACD's decisions (the tracker): who was booked for a call and
    why (for the agent's screen pop), and a caller leaving the queue other than to an agent."""

    def offered(self, call_id: str, agent_id: str, reason: dict | None) -> None: ...
    def callback_number(self, call_id: str) -> str | None: ...
    def left_queue(self, call_id: str, where: str, *, recording: str | None = None,
                   callback_number: str | None = None) -> None: ...


class AmiConnector:
    """The ACD's hands on Asterisk: put a waiting caller through to an agent (Setvar +
    Redirect to the connect context), play them their position and wait, and take them out
    of the queue to wherever its configuration says (voicemail, a call back, the fallback).

    An announcement is a Redirect too, so the two are serialised per channel, and once a
    connect or a queue exit has started on a channel it gets no more announcements: an
    announcement that landed after it would pull the caller out of a ringing Dial or a
    recording.
    """

    CONNECT_STARTED_MEMORY = 20_000  # channels remembered; channel names are unique per call

    def __init__(self, client, ring_timeout: int, *, voicemail_dir: str = DEFAULT_VOICEMAIL_DIR,
                 calls: QueueExits | None = None, fallback_persistence: float = FALLBACK_PERSISTENCE):
        self.client = client
        self.ring_timeout = ring_timeout
        self.voicemail_dir = voicemail_dir.rstrip("/")  # on the Asterisk host
        self.calls = calls  # told where each caller went; the gateway sets it once the tracker exists
        self.fallback_persistence = fallback_persistence
        self._connect_started: dict[str, None] = {}  # an insertion-ordered, bounded set
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._rescues: set[asyncio.Task] = set()

    def _lock(self, channel: str) -> asyncio.Lock:
        lock = self._locks.get(channel)
        if lock is None:
            lock = self._locks[channel] = asyncio.Lock()
        return lock

    def _claim(self, channel: str) -> None:
        """No announcement on this channel from now on (call before any await)."""
        self._connect_started[channel] = None
        while len(self._connect_started) > self.CONNECT_STARTED_MEMORY:
            del self._connect_started[next(iter(self._connect_started))]

    async def connect(self, call, agent) -> None:
        channel = call.channel
        self._claim(channel)
        if self.calls is not None:  # before the Redirect: the pop goes out when the phone rings
            match = getattr(call, "match", None)
            self.calls.offered(call.call_id, agent.id, match.to_dict() if match is not None else None)
        async with self._lock(channel):
            await self.client.action("Setvar", Channel=channel, Variable="CTIGW_RING_TIMEOUT",
                                     Value=str(self.ring_timeout))
            await self.client.action("Redirect", Channel=channel, Context=CONNECT_CONTEXT,
                                     Exten=agent.endpoint, Priority="1")

    async def return_to_hold(self, channel: str) -> None:
        """Take the caller out of their call with an agent, back to the music (a blind transfer:
        the agent's leg hangs up). The ACD connects them again; meanwhile they may be announced."""
        async with self._lock(channel):
            await self.client.action("Redirect", Channel=channel, Context=HOLD_CONTEXT, Exten="s", Priority="1")
            self._connect_started.pop(channel, None)

    async def to_fallback(self, channel: str) -> None:
        """The caller's way out when the ACD cannot take them back: the fallback queue."""
        self._claim(channel)
        async with self._lock(channel):
            await self.client.action("Redirect", Channel=channel, Context=FALLBACK_CONTEXT, Exten="s", Priority="1")

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

    # -- leaving the queue other than to an agent ---------------------------------------------
    async def queue_outcome(self, call, outcome) -> None:
        """The ACD has taken the call out of its queue (a relax step's voicemail or callback,
        or every connect attempt failed): move the caller out of the hold context. Whatever
        fails, the caller still gets out: to the fallback queue, once AMI is back if need be."""
        if outcome.kind == "overflow":
            return  # the ACD moved the call to another queue itself; the caller stays on hold
        self._claim(call.channel)
        if await self._leave_queue(call, outcome.kind):
            return
        log.warning("call %s: AMI is down; the caller leaves the queue (%s, else the fallback queue) as soon "
                    "as it is back", call.call_id, outcome.kind)
        task = asyncio.get_running_loop().create_task(self._rescue(call, outcome.kind))
        self._rescues.add(task)
        task.add_done_callback(self._rescues.discard)

    async def _leave_queue(self, call, kind: str) -> bool:
        """Redirect the caller for `kind`, else to the fallback. False when AMI is unreachable."""
        async with self._lock(call.channel):
            if kind in ("voicemail", "callback"):
                try:
                    await self._redirect_for(call, kind)
                    return True
                except (AmiNotConnected, AmiTimeout):
                    return False
                except Exception as exc:
                    log.error("call %s: sending the caller to %s failed (%s); trying the fallback queue",
                              call.call_id, kind, exc)
            elif kind != "connect_failed":
                log.error("call %s: queue outcome %r is not one the call layer knows; fallback queue",
                          call.call_id, kind)
            try:
                await self.client.action("Redirect", Channel=call.channel, Context=FALLBACK_CONTEXT, Exten="s",
                                         Priority="1")
            except (AmiNotConnected, AmiTimeout):
                return False
            except Exception as exc:  # e.g. the caller hung up meanwhile: nothing left to move
                log.error("call %s: sending the caller to the fallback queue failed: %s", call.call_id, exc)
                return True
            log.info("call %s left its queue (%s) for the fallback queue", call.call_id, kind)
            self._report(call.call_id, "fallback")
            return True

    async def _redirect_for(self, call, kind: str) -> None:
        channel = call.channel
        if kind == "voicemail":
            recording = f"{self.voicemail_dir}/{_file_safe(call.call_id)}.wav"
            await self.client.action("Setvar", Channel=channel, Variable="CTIGW_VOICEMAIL_FILE", Value=recording)
            await self.client.action("Redirect", Channel=channel, Context=VOICEMAIL_CONTEXT, Exten="s",
                                     Priority="1")
            log.info("call %s left its queue for voicemail (%s)", call.call_id, recording)
            self._report(call.call_id, "voicemail", recording=recording)
            return
        number = self.calls.callback_number(call.call_id) if self.calls is not None else None
        if not number:
            raise ValueError("the caller's number is unknown or cannot be called back")
        await self.client.action("Setvar", Channel=channel, Variable="CTIGW_CALLBACK_NUMBER", Value=number)
        await self.client.action("Redirect", Channel=channel, Context=CALLBACK_CONTEXT, Exten="s", Priority="1")
        log.info("call %s left its queue with a callback request on %s", call.call_id, number)
        self._report(call.call_id, "callback", callback_number=number)

    async def _rescue(self, call, kind: str) -> None:
        # AMI is down: the caller is still on hold. Wait for AMI and try again, for a while.
        deadline = asyncio.get_running_loop().time() + self.fallback_persistence
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            try:
                await self.client.wait_connected(left)
            except AmiTimeout:
                break
            except AmiNotConnected:
                return  # the client was stopped (the gateway is stopping): nothing to wait for
            if await self._leave_queue(call, kind):
                return
            await asyncio.sleep(0.5)  # connected, then lost again at once: do not spin
        log.error("call %s: AMI stayed unreachable for %.0f s; the caller is left to the dialplan's own "
                  "timeout on hold", call.call_id, self.fallback_persistence)

    def _report(self, call_id: str, where: str, **details) -> None:
        if self.calls is not None:
            try:
                self.calls.left_queue(call_id, where, **details)
            except Exception:
                log.exception("call %s: recording where the caller went failed", call_id)


def _file_safe(name: str) -> str:
    # A linkedid is digits and a dot; anything else (a hostile or odd id) must not reach a path.
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name).lstrip(".") or "call"


class AmiDialler:
    """Click-to-dial on Asterisk: an Originate rings the agent's phone first; once they pick up,
    [ctigw-outbound] dials the customer through the trunk. The agent's leg gets the call's id
    (ChannelId), so every event of the call carries it as its linkedid. An Originate that never
    reaches the agent (not registered, rejected, not answered) is reported to the tracker as
    OriginateFailed."""

    def __init__(self, client, *, ring_timeout: float, dial_timeout: float = 45.0):
        self.client = client
        self.ring_timeout = ring_timeout
        self.dial_timeout = dial_timeout  # the customer's phone rings this long
        self._pending: dict[str, str] = {}  # the agent's endpoint -> the call's id, until Asterisk answers
        self._tracker = None

    def attach(self, tracker) -> None:
        self._tracker = tracker
        self.client.on("OriginateResponse", self._on_originate_response)

    async def originate(self, *, endpoint: str, number: str, call_id: str, owner: str) -> None:
        """`number` is E.164 (dialling.dialable_number): the extension carries nothing else."""
        self._pending[endpoint] = call_id  # before the action: a quick failure may beat its reply
        try:
            await self.client.action(
                "Originate", Channel=f"PJSIP/{endpoint}", Context=OUTBOUND_CONTEXT, Exten=number, Priority="1",
                Timeout=str(int(self.ring_timeout * 1000)), CallerID=number, Async="true", ChannelId=call_id,
                Variable=[f"{OWNER_VARIABLE}={owner}", f"CTIGW_DIAL_TIMEOUT={int(self.dial_timeout)}"])
        except BaseException:
            self._pending.pop(endpoint, None)
            raise

    async def _on_originate_response(self, msg) -> None:
        endpoint = _originated_endpoint(msg.get("Channel") or "")
        call_id = self._pending.get(endpoint)
        if call_id is None or msg.get("Uniqueid") not in (call_id, "<null>", "", None):
            return  # not ours (another gateway's, or an older attempt of this agent)
        del self._pending[endpoint]
        if msg.get("Response") == "Success" or self._tracker is None:
            return  # the agent picked up; the dialplan takes it from here
        await self._tracker.handle(OriginateFailed(call_id, f"reason {msg.get('Reason') or '?'}", _timestamp(msg)))


def _originated_endpoint(channel: str) -> str:
    """'PJSIP/1001-0000002a' or (when no channel was made) 'PJSIP/1001' -> '1001'."""
    name = channel.split("/", 1)[-1]
    return name.rsplit("-", 1)[0] if "-" in name else name
