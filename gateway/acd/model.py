"""What the ACD knows about a call: the customer facts, the queued call, and the Connector
through which it acts on the call layer. (The route request is gateway.routing's.)

Plain values, no I/O. A QueuedCall round-trips through a Redis hash (`to_hash`/`from_hash`)
and through the JSON events (`to_event`/`from_event`).
"""
from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Mapping, Protocol

from gateway.acd.reasons import MatchReason

if TYPE_CHECKING:
    from gateway.acd.roster import Agent


@dataclass(frozen=True)
class CustomerFacts:
    """What the ACD weighs about the caller: tier points, last-agent affinity."""

    customer_id: str | None = None
    tier: str | None = None
    last_agent_id: str | None = None
    repeat_caller: bool = False
    has_open_case: bool = False

    @property
    def wants_last_agent(self) -> bool:
        """A repeat caller with an open case should get the agent who handled it."""
        return self.repeat_caller and self.has_open_case and self.last_agent_id is not None


class CallState(str, enum.Enum):
    WAITING = "waiting"
    RESERVED = "reserved"  # an agent is booked; the call layer is connecting
    RINGING = "ringing"
    CONNECTED = "connected"


@dataclass(frozen=True)
class QueuedCall:
    call_id: str
    channel: str  # the caller's Asterisk channel, which the call layer redirects
    queue: str
    skills: tuple[str, ...]
    language: str | None
    priority: float  # IVR priority + customer tier points
    enqueued_at: float  # first entered any queue (for statistics)
    queue_entered_at: float  # entered this queue (relax steps count from here)
    rank_key: float  # lower = served first; see matching.rank_key
    customer: CustomerFacts = field(default_factory=CustomerFacts)
    owner: str = ""  # the gateway instance whose call layer holds the caller
    state: CallState = CallState.WAITING
    agent_id: str | None = None
    version: int = 1
    rona_agents: tuple[str, ...] = ()
    connect_failures: int = 0
    retry_at: float = 0.0  # after a failed connect: not offered to an agent before this time
    overflowed_from: str | None = None
    match: MatchReason | None = None  # why the ACD booked agent_id (kept with the reservation)
    required_agent: str | None = None  # a transfer to a named agent: nobody else may take it
    transferred_from: str | None = None  # the agent who transferred the call into this queue

    def advanced(self, **changes) -> "QueuedCall":
        """A copy with `changes` applied and the version bumped (every stored change does)."""
        return replace(self, version=self.version + 1, **changes)

    # -- Redis hash --------------------------------------------------------------------------
    def to_hash(self) -> dict[str, str]:
        return {"data": json.dumps(self.to_event(), separators=(",", ":")), "version": str(self.version),
                "state": self.state.value}

    @classmethod
    def from_hash(cls, raw: Mapping) -> "QueuedCall | None":
        if not raw:
            return None
        data = raw.get("data") if "data" in raw else raw.get(b"data")
        return cls.from_event(json.loads(data))

    # -- JSON events ------------------------------------------------------------------------
    def to_event(self) -> dict[str, Any]:
        # Written out by hand: dataclasses.asdict deep-copies and costs ~10x (on the decision path).
        c = self.customer
        return {"call_id": self.call_id, "channel": self.channel, "queue": self.queue, "skills": list(self.skills),
                "language": self.language, "priority": self.priority, "enqueued_at": self.enqueued_at,
                "queue_entered_at": self.queue_entered_at, "rank_key": self.rank_key,
                "customer": {"customer_id": c.customer_id, "tier": c.tier, "last_agent_id": c.last_agent_id,
                             "repeat_caller": c.repeat_caller, "has_open_case": c.has_open_case},
                "owner": self.owner, "state": self.state.value, "agent_id": self.agent_id, "version": self.version,
                "rona_agents": list(self.rona_agents), "connect_failures": self.connect_failures,
                "retry_at": self.retry_at, "overflowed_from": self.overflowed_from,
                "match": self.match.to_dict() if self.match is not None else None,
                "required_agent": self.required_agent, "transferred_from": self.transferred_from}

    @classmethod
    def from_event(cls, data: Mapping[str, Any]) -> "QueuedCall":
        data = dict(data)
        data["customer"] = CustomerFacts(**data.get("customer") or {})
        data["state"] = CallState(data.get("state", "waiting"))
        data["skills"] = tuple(data.get("skills") or ())
        data["rona_agents"] = tuple(data.get("rona_agents") or ())
        data["match"] = MatchReason.from_dict(data.get("match"))
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class QueueOutcome:
    """A relax step's end of the road: the call layer acts on it.

    kind "overflow": the ACD moved the call to `target_queue` itself (informational).
    kind "voicemail" / "callback": the ACD has taken the call out of its queue; the call
    layer sends the caller to voicemail or records a callback request.
    kind "connect_failed": every connect attempt failed and the call has left its queue; the
    call layer sends the caller to its fallback.
    """

    kind: str
    call_id: str
    queue: str
    target_queue: str | None = None
    waited_seconds: float = 0.0


class Connector(Protocol):
    """The ACD's hands on the call layer (which owns AMI); gateway.calls.ami_bridge implements it."""

    async def connect(self, call: QueuedCall, agent: Agent) -> None:
        """Put the waiting caller through to the agent the ACD booked (raise if that failed)."""

    async def announce(self, call: QueuedCall, position: int, estimated_wait: float | None) -> None:
        """Tell the waiting caller their place in the queue and roughly how long is left."""

    async def queue_outcome(self, call: QueuedCall, outcome: QueueOutcome) -> None:
        """The queue's last step (or failed connects) took the call out: voicemail, callback,
        connect_failed; an overflow is only news."""


@dataclass(frozen=True)
class WaitingCallView:
    call_id: str
    position: int
    waited_seconds: float
    effective_priority: float
    language: str | None
    skills: tuple[str, ...]
    customer_tier: str | None


@dataclass(frozen=True)
class QueueSnapshot:
    """A wallboard's view of one queue, read from Redis (so it spans gateway instances)."""

    queue: str
    at: float
    waiting: tuple[WaitingCallView, ...]
    longest_wait_seconds: float
    agents_by_state: dict[str, int]  # agents who could serve the queue (skill or team)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
