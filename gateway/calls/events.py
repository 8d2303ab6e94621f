"""Telephony events the call tracker understands, independent of AMI's wire format."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DialStarted:
    linkedid: str
    endpoint: str  # the agent's PJSIP endpoint, e.g. "1001"
    agent_channel: str
    at: float


@dataclass(frozen=True)
class DialFinished:
    linkedid: str
    endpoint: str
    status: str  # ANSWER, NOANSWER, BUSY, CHANUNAVAIL, CANCEL, ...
    at: float


@dataclass(frozen=True)
class ChannelHungUp:
    linkedid: str
    uniqueid: str
    channel: str
    cause: str
    at: float


@dataclass(frozen=True)
class HoldChanged:
    linkedid: str
    uniqueid: str
    on_hold: bool
    at: float


@dataclass(frozen=True)
class CallTransferred:
    linkedid: str  # the caller's call
    at: float


@dataclass(frozen=True)
class OriginateFailed:
    """The agent's phone never took the outbound call (not registered, rejected, no answer)."""

    linkedid: str
    reason: str
    at: float
