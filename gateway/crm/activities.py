"""The call activity log: exactly one CRM activity per call, even through database outages.

    log = ActivityLog(store, settings.spool_path)
    log.start()                                  # replays what an earlier run spooled
    await log.record_call(CallActivity(linkedid=..., outcome="answered", ...))
    await log.add_wrapup(linkedid, agent_id, "resolved", "explained the invoice")
    await log.add_timeout_disposition(linkedid, agent_id, "no_disposition")   # only if none was saved
    await log.close()

Writes are keyed by Asterisk's linkedid (unique in the table, written with an upsert), so
writing a call twice never makes two activities, and a later write with more information
fills in what the earlier one lacked. If the database cannot be reached, the write goes to a
durable local spool instead (spool.py) and a background flusher replays it, in order, with
backoff, when the database is back. Replay is safe because the write is idempotent. While
anything is spooled, new writes queue behind it, so a call's writes never land out of order.

IVR inputs are masked again here (keys in `sensitive`) before anything is written or spooled.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from gateway.crm.backend import CrmUnavailable
from gateway.crm.models import utcnow
from gateway.crm.numbers import classify_ani, safe_display
from gateway.crm.spool import ActivitySpool, SpoolEntry
from gateway.routing import RouteRequest

log = logging.getLogger(__name__)

OUTCOMES = frozenset({
    "answered", "abandoned_ivr", "abandoned_queue", "voicemail", "callback", "transferred", "failed",
    "self_service",  # the caller was served by the IVR alone (gateway.calls reports it)
    "no_answer",  # an outbound call nobody answered (the agent's phone or the customer's)
})
DIRECTIONS = frozenset({"inbound", "outbound"})
DEFAULT_SENSITIVE_KEYS = frozenset({
    "pin", "password", "passcode", "otp", "card_number", "card", "cvv", "cvc", "expiry", "iban",
    "tckn", "national_id", "ssn", "date_of_birth", "dob",
})
MASK = "****"
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_TEXT_LIMIT = 64  # the short text columns (dnis, queue, agent id, disposition)


@dataclass(kw_only=True)
class CallActivity:
    """One call as the call tracker hands it over. Times are datetimes or epoch seconds."""

    linkedid: str
    raw_ani: str | None = None
    e164: str | None = None  # derived from raw_ani when not given
    customer_id: int | None = None  # found by e164 when not given
    dnis: str | None = None
    direction: str = "inbound"
    started_at: datetime | float | None = None
    answered_at: datetime | float | None = None
    ended_at: datetime | float | None = None
    outcome: str | None = None  # one of OUTCOMES; None while unknown (an early write)
    queue: str | None = None
    agent_id: str | None = None
    wait_seconds: float | None = None
    talk_seconds: float | None = None
    hold_seconds: float | None = None
    ivr_path: list[str] = field(default_factory=list)
    ivr_inputs: dict[str, str] = field(default_factory=dict)
    route: RouteRequest | None = None  # where the IVR sent the call
    sensitive_keys: frozenset[str] = frozenset()  # this flow's own secret inputs, masked too
    transfers: list[dict] = field(default_factory=list)  # {from_agent, to_queue, to_agent, note, at}


class ActivityLog:
    def __init__(
        self,
        store,
        spool_path: str | Path,
        *,
        sensitive: Iterable[str] = DEFAULT_SENSITIVE_KEYS,
        write_timeout: float = 5.0,
        retry_initial: float = 0.5,
        retry_max: float = 30.0,
    ):
        self.store = store
        self.sensitive = frozenset(k.lower() for k in sensitive)
        self.write_timeout = write_timeout
        self.retry_initial = retry_initial
        self.retry_max = retry_max
        self._spool = ActivitySpool(spool_path)
        self._pending = self._spool.pending_count()
        self._dead = self._spool.dead_count()
        # fsync takes milliseconds: keep it off the event loop, in one thread (one order).
        self._spool_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="crm-spool")
        self._lock = asyncio.Lock()  # one write (or spool decision) at a time: keeps order
        self._flusher: asyncio.Task | None = None
        self._closed = False

    # -- public ----------------------------------------------------------------------------
    async def record_call(self, activity: CallActivity) -> int | None:
        """Write the call's activity (or spool it). Returns the activity id, None if spooled.
        Raises ValueError for an activity that can never be written (bad outcome, no linkedid)."""
        params = call_params(activity, self.sensitive | {k.lower() for k in activity.sensitive_keys},
                             self.store.region, utcnow())
        return await self._write("call", params)

    async def add_wrapup(self, linkedid: str, agent_id: str | None, disposition: str | None,
                         notes: str | None, case_id: int | None = None) -> int | None:
        """Add the agent's wrap-up to the call's activity (or spool it)."""
        params = {
            "linkedid": _linkedid(linkedid),
            "agent_id": _short(agent_id),
            "disposition": _short(disposition),
            "notes": notes[:4000] if isinstance(notes, str) else None,
            "case_id": case_id if isinstance(case_id, int) and not isinstance(case_id, bool) else None,
            "now": utcnow(),
        }
        return await self._write("wrapup", params)

    async def add_timeout_disposition(self, linkedid: str, agent_id: str | None, disposition: str) -> int | None:
        """A mandatory wrap-up ran out: record `disposition` unless the agent saved one (or spool it)."""
        params = {"linkedid": _linkedid(linkedid), "agent_id": _short(agent_id), "disposition": _short(disposition),
                  "now": utcnow()}
        return await self._write("wrapup_timeout", params)

    def spooled_count(self) -> int:
        """Activities waiting in the spool for the database."""
        return self._pending

    def dead_count(self) -> int:
        """Spooled activities the database refused for good (kept in the spool file)."""
        return self._dead

    async def check_spool(self) -> None:
        """Raises unless the spool file answers a read (readiness: with the CRM down, calls
        still go on while their activities can be spooled)."""
        if self._closed:
            raise RuntimeError("the activity log is closed")
        await self._in_spool_thread(self._spool.pending_count)

    def start(self) -> None:
        """Start replaying what is spooled (e.g. by an earlier run). Needs a running loop."""
        if self._pending:
            self._ensure_flusher()

    async def flush(self) -> int:
        """Replay the spool now; returns how many entries reached the database. Stops at
        the first entry that meets an outage (the flusher keeps retrying in the background)."""
        written = 0
        while True:
            count, blocked = await self._flush_batch()
            written += count
            if blocked or not self._pending:
                return written

    async def close(self) -> None:
        if self._closed:
            return  # closed already (a second close is harmless)
        self._closed = True
        if self._flusher is not None:
            self._flusher.cancel()
            try:
                await self._flusher
            except asyncio.CancelledError:
                pass
        async with self._lock:
            await self._in_spool_thread(self._spool.close)
        self._spool_thread.shutdown(wait=True)

    # -- writing ---------------------------------------------------------------------------
    async def _write(self, kind: str, params: dict) -> int | None:
        async with self._lock:
            if self._pending == 0:
                try:
                    return await self._apply(kind, params)
                except Exception as exc:
                    if not _is_outage(exc):
                        await self._set_aside(kind, params, exc)
                        return None
                    log.warning("CRM unreachable, spooling activities until it is back: %s", _reason(exc))
            await self._in_spool_thread(self._spool.append, kind, params)
            self._pending += 1
        self._ensure_flusher()
        return None

    async def _apply(self, kind: str, params: dict) -> int:
        write = {"call": self.store.write_call_activity, "wrapup": self.store.write_wrapup,
                 "wrapup_timeout": self.store.write_wrapup_timeout}[kind]
        if kind == "call":
            params = {"transfers": None, **params}  # spooled by a version before transfers were kept
        return await asyncio.wait_for(write(params), self.write_timeout)

    async def _set_aside(self, kind: str, params: dict, exc: BaseException) -> None:
        log.error("CRM refused the %s activity %s; kept in the spool as dead: %s",
                  kind, params.get("linkedid"), _reason(exc), exc_info=exc)
        seq = await self._in_spool_thread(self._spool.append, kind, params)
        await self._in_spool_thread(self._spool.bury, seq, _reason(exc))
        self._dead += 1

    # -- replaying -------------------------------------------------------------------------
    async def _flush_batch(self, size: int = 50) -> tuple[int, bool]:
        """Replay up to `size` entries in order; returns (written, met an outage)."""
        async with self._lock:
            entries = await self._in_spool_thread(self._spool.head, size)
            if not entries:
                self._pending = 0  # never spin on a count that drifted from the file
                return 0, False
            done: list[int] = []
            blocked = False
            for entry in entries:
                try:
                    await self._apply(entry.kind, entry.params)
                except Exception as exc:
                    if _is_outage(exc):
                        await self._in_spool_thread(self._spool.note_failure, entry.seq, _reason(exc))
                        blocked = True
                        break
                    await self._bury(entry, exc)
                    continue
                done.append(entry.seq)
            # Removed after the writes: a crash in between replays them, which is harmless.
            await self._in_spool_thread(self._spool.remove, done)
            self._pending -= len(done)
            return len(done), blocked

    async def _bury(self, entry: SpoolEntry, exc: BaseException) -> None:
        log.error("CRM refused spooled %s activity %s; set aside as dead: %s",
                  entry.kind, entry.params.get("linkedid"), _reason(exc), exc_info=exc)
        await self._in_spool_thread(self._spool.bury, entry.seq, _reason(exc))
        self._pending -= 1
        self._dead += 1

    def _ensure_flusher(self) -> None:
        if self._closed or (self._flusher is not None and not self._flusher.done()):
            return
        self._flusher = asyncio.get_running_loop().create_task(self._flush_until_empty())

    async def _flush_until_empty(self) -> None:
        delay = self.retry_initial
        failures = 0
        while self._pending and not self._closed:
            try:
                written, blocked = await self._flush_batch()
            except Exception:  # the spool file itself failing: log, back off, try again
                log.exception("replaying the activity spool failed")
                written, blocked = 0, True
            if not blocked:
                delay = self.retry_initial
                continue
            failures += 1
            if failures == 1 or failures % 10 == 0:
                log.warning("CRM still unreachable; %d activities spooled, retrying in %.1f s",
                            self._pending, delay)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.retry_max)
        if not self._pending:
            log.info("activity spool flushed; CRM writes are direct again")

    async def _in_spool_thread(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self._spool_thread, fn, *args)


def _is_outage(exc: BaseException) -> bool:
    return isinstance(exc, (CrmUnavailable, asyncio.TimeoutError, TimeoutError))


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


# -- turning a CallActivity into the upsert's parameters ------------------------------------
def call_params(activity: CallActivity, sensitive: frozenset[str], region: str, now: datetime) -> dict:
    if activity.outcome is not None and activity.outcome not in OUTCOMES:
        raise ValueError(f"unknown call outcome {activity.outcome!r} (expected one of {sorted(OUTCOMES)})")
    if activity.direction not in DIRECTIONS:
        raise ValueError(f"unknown call direction {activity.direction!r}")
    e164 = activity.e164 if isinstance(activity.e164, str) and _E164.fullmatch(activity.e164) else None
    if e164 is None and activity.raw_ani is not None:
        e164 = classify_ani(activity.raw_ani, region).e164
    started_at = _utc(activity.started_at)
    params = {
        "linkedid": _linkedid(activity.linkedid),
        "customer_id": activity.customer_id if _is_int(activity.customer_id) else None,
        "e164": e164,
        "raw_ani": safe_display(activity.raw_ani) if isinstance(activity.raw_ani, str) else None,
        "dnis": _short(activity.dnis),
        "direction": activity.direction,
        "occurred_at": started_at or now,
        "started_at": started_at,
        "answered_at": _utc(activity.answered_at),
        "ended_at": _utc(activity.ended_at),
        "outcome": activity.outcome,
        "queue": _short(activity.queue),
        "agent_id": _short(activity.agent_id),
        "wait_seconds": _seconds(activity.wait_seconds),
        "talk_seconds": _seconds(activity.talk_seconds),
        "hold_seconds": _seconds(activity.hold_seconds),
        "ivr_path": _json([_short(step) for step in activity.ivr_path or [] if step is not None][:200]),
        "ivr_inputs": _json(mask_inputs(activity.ivr_inputs or {}, sensitive)),
        "route": _json(route_dict(activity.route)),
        "transfers": _json([transfer_dict(t) for t in (activity.transfers or [])[:20]]),
        "now": now,
    }
    params["summary"] = describe_call(params)
    return params


def mask_inputs(inputs: Mapping[str, Any], sensitive: frozenset[str]) -> dict[str, str]:
    """The IVR's inputs with every value under a sensitive key replaced by a mask."""
    masked = {}
    for key, value in list(inputs.items())[:100]:
        secret = str(key).strip().lower() in sensitive
        key = safe_display(str(key), _TEXT_LIMIT)
        if (secret or key.lower() in sensitive) and value not in (None, ""):
            masked[key] = MASK
        else:
            masked[key] = safe_display(str(value), 200) if value is not None else ""
    return masked


def transfer_dict(transfer: Mapping[str, Any]) -> dict:
    """One blind transfer as stored: agent ids and queue short, the agent's note as text."""
    note = transfer.get("note")
    at = transfer.get("at")
    return {"from_agent": _short(transfer.get("from_agent")), "to_queue": _short(transfer.get("to_queue")),
            "to_agent": _short(transfer.get("to_agent")), "note": note[:2000] if isinstance(note, str) else None,
            "at": _utc(at).isoformat() if at is not None else None}


def route_dict(route: RouteRequest | None) -> dict | None:
    """The IVR's route request as plain JSON data."""
    if route is None:
        return None
    return {"queue": route.queue, "skills": list(route.skills), "language": route.language,
            "priority": route.priority}


def describe_call(params: dict) -> str:
    """A one-line summary for the agent's history list."""
    outcome = params.get("outcome") or "in progress"
    parts = [f"{params['direction'].capitalize()} call: {outcome.replace('_', ' ')}"]
    if params.get("agent_id"):
        parts.append(f"agent {params['agent_id']}")
    if params.get("transfers"):
        parts.append("transferred by " + ", ".join(t["from_agent"] or "?" for t in json.loads(params["transfers"])))
    if params.get("queue"):
        parts.append(f"queue {params['queue']}")
    if params.get("wait_seconds"):
        parts.append(f"waited {params['wait_seconds']:.0f} s")
    if params.get("talk_seconds"):
        parts.append(f"talked {params['talk_seconds']:.0f} s")
    return ", ".join(parts)


def _jsonable(value):
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return str(value)


def _json(value) -> str | None:
    # Empty means "not known by this write": NULL, so it never erases what an earlier write had.
    if not value:
        return None
    return json.dumps(value, ensure_ascii=False, default=_jsonable)


def _utc(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return datetime.fromtimestamp(value, timezone.utc)
    raise ValueError(f"not a time: {value!r}")


def _seconds(value) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return max(0.0, value) if math.isfinite(value) else None


def _short(value) -> str | None:
    if value is None:
        return None
    text = safe_display(str(value), _TEXT_LIMIT)
    return text or None


def _linkedid(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("a call activity needs Asterisk's linkedid")
    if len(value) > _TEXT_LIMIT or not value.isprintable():
        raise ValueError(f"not an Asterisk linkedid: {safe_display(value)!r}")
    return value.strip()


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
