"""Agent state periods as the board and the reports use them: plain values and pure sums.

A figure for a window [start, end) counts each period only for the part inside the window,
so any window (the last 30 minutes, yesterday 22:00 to today 06:00) is computed from the
stored periods alone, never by replaying a day from midnight. A period still open counts
until `now`.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Iterable

NOT_READY = "not_ready"


@dataclass(frozen=True)
class Window:
    """[start, end): aware datetimes, start before end."""

    start: datetime
    end: datetime

    def __post_init__(self):
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, datetime):
                raise ValueError(f"window {name} must be a datetime, not {type(value).__name__}")
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(f"window {name} {value.isoformat()} has no time zone")
        if self.start >= self.end:
            raise ValueError(f"window start {self.start.isoformat()} is not before its end {self.end.isoformat()}")

    def utc(self) -> "Window":
        return Window(self.start.astimezone(timezone.utc), self.end.astimezone(timezone.utc))


@dataclass(frozen=True)
class StatePeriod:
    agent_id: str
    state: str
    started_at: datetime
    ended_at: datetime | None  # None: the agent is still in this state
    reason: str | None = None
    queue: str | None = None
    call_id: str | None = None

    @property
    def seconds(self) -> float:
        """Length of a closed period (clip an open one first)."""
        if self.ended_at is None:
            raise ValueError(f"period of agent {self.agent_id} from {self.started_at.isoformat()} is still open")
        return (self.ended_at - self.started_at).total_seconds()


def clip(period: StatePeriod, window: Window, now: datetime) -> StatePeriod | None:
    """The part of `period` inside `window` (an open period lasting until `now`); None if none."""
    end = period.ended_at if period.ended_at is not None else now
    start = max(period.started_at, window.start)
    end = min(end, window.end)
    if end <= start:
        return None
    return replace(period, started_at=start, ended_at=end)


def clip_all(periods: Iterable[StatePeriod], window: Window, now: datetime) -> list[StatePeriod]:
    return [c for c in (clip(p, window, now) for p in periods) if c is not None]


def seconds_by_state(periods: Iterable[StatePeriod]) -> dict[str, dict[str, float]]:
    """{agent: {state: seconds}} over closed (clipped) periods."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for p in periods:
        totals[p.agent_id][p.state] += p.seconds
    return {agent: dict(states) for agent, states in totals.items()}


def not_ready_by_reason(periods: Iterable[StatePeriod]) -> dict[str, dict[str, float]]:
    """{agent: {reason: seconds}} of not-ready time over closed (clipped) periods."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for p in periods:
        if p.state == NOT_READY:
            totals[p.agent_id][p.reason or ""] += p.seconds
    return {agent: dict(reasons) for agent, reasons in totals.items()}
