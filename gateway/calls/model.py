"""What the gateway knows about one call, from the AGI (or the agent's click-to-dial) until
the last hang-up.

A call is keyed by Asterisk's linkedid, which every channel of the call carries (caller leg,
agent leg), so AMI events for any leg find it.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field

from gateway.crm.views import CallerView
from gateway.routing import RouteRequest


class CallPhase(enum.Enum):
    IVR = "ivr"
    QUEUED = "queued"  # waiting with music on hold
    RINGING = "ringing"  # an agent's phone rings
    CONNECTED = "connected"  # caller and agent talk
    ENDED = "ended"


@dataclass
class Call:
    linkedid: str
    caller_uniqueid: str
    caller_channel: str
    raw_ani: str
    dnis: str
    started_at: float
    caller: CallerView | None = None  # None: the CRM was not asked
    phase: CallPhase = CallPhase.IVR
    ivr_path: list[str] = field(default_factory=list)
    ivr_inputs: dict[str, str] = field(default_factory=dict)
    route: RouteRequest | None = None  # where the IVR sent the call
    ivr_outcome: str | None = None  # hangup / voicemail / callback / abandoned / route
    queue: str | None = None
    queued_at: float | None = None
    queue_exit: str | None = None  # left the queue for voicemail / callback / fallback (not an agent)
    agent_id: str | None = None  # agent ringing or talking
    agent_channel: str | None = None
    ringing_at: float | None = None  # when the agent's phone started ringing (the pop's wait ends there)
    answered_at: float | None = None
    ended_at: float | None = None
    hold_started_at: float | None = None
    hold_seconds: float = 0.0
    rona_agents: list[str] = field(default_factory=list)
    # The agents whose phone rings for this call right now, each with a pop on their desk
    # (several only when a plain queue rings them all, e.g. the fallback queue).
    ringing_agents: list[str] = field(default_factory=list)
    routing: dict | None = None  # why the ACD chose routing_agent (gateway.acd.reasons.MatchReason)
    routing_agent: str | None = None
    desk_ended_for: str | None = None  # the agent whose desk already went to after-call work (a transfer)
    transferred: bool = False
    # While the AGI handler runs the IVR, a Hangup event only notes the time: the call is
    # ended (and logged, with its IVR path) once the handler hands over.
    ivr_running: bool = True
    caller_gone_at: float | None = None
    # inbound: the caller's leg is the one above. outbound (click-to-dial): the agent's leg is
    # (Asterisk originates it first), and raw_ani is the customer's number being dialled.
    direction: str = "inbound"
    agent_picked_up_at: float | None = None  # outbound: the agent's phone answered, the customer's rings
    dial_status: str | None = None  # outbound: how dialling the customer ended (ANSWER, BUSY, ...)
    # Blind transfers, in order: {from_agent, to_queue, to_agent, note, at}.
    transfers: list[dict] = field(default_factory=list)

    @property
    def wait_seconds(self) -> float:
        if self.queued_at is None:
            return 0.0
        end = self.answered_at or self.ended_at or self.queued_at
        return max(0.0, end - self.queued_at)

    @property
    def talk_seconds(self) -> float:
        if self.answered_at is None or self.ended_at is None:
            return 0.0
        return max(0.0, self.ended_at - self.answered_at - self.hold_seconds)

    def outcome(self) -> str:
        """The CRM outcome of a call that has ended."""
        if self.direction == "outbound":
            return "answered" if self.answered_at is not None else "no_answer"
        if self.answered_at is not None:
            return "transferred" if self.transferred else "answered"
        if self.ivr_outcome in ("voicemail", "callback"):
            return self.ivr_outcome
        if self.queue_exit in ("voicemail", "callback"):
            return self.queue_exit  # a fallback queue's caller is answered there, or abandons it
        if self.queued_at is not None:
            return "abandoned_queue"
        if self.ivr_outcome in (None, "abandoned"):
            return "abandoned_ivr"
        if self.ivr_outcome == "hangup":
            return "self_service"
        return "failed"
