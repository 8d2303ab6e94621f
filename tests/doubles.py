"""Test doubles of the contracts between the parts, each implementing exactly one Protocol
(tests/unit/test_contracts.py holds them and the real classes to it)."""
from __future__ import annotations

from gateway.acd.model import CustomerFacts, QueuedCall, QueueOutcome
from gateway.routing import RouteRequest


class RecordingConnector:
    """gateway.acd.model.Connector: stands in for the call layer, records what the ACD asks of it."""

    def __init__(self, fail: int = 0):
        self.connects: list[tuple[str, str]] = []
        self.announcements: list[tuple[str, int, float | None]] = []
        self.outcomes: list[QueueOutcome] = []
        self.fail = fail  # how many connects raise before they succeed

    async def connect(self, call: QueuedCall, agent) -> None:
        if self.fail:
            self.fail -= 1
            raise ConnectionError("AMI Redirect failed")
        self.connects.append((call.call_id, agent.id))

    async def announce(self, call: QueuedCall, position: int, estimated_wait: float | None) -> None:
        self.announcements.append((call.call_id, position, estimated_wait))

    async def queue_outcome(self, call: QueuedCall, outcome: QueueOutcome) -> None:
        self.outcomes.append(outcome)


class RecordingAcd:
    """gateway.calls.ports.AcdPort: records what the call layer tells the ACD, in order."""

    def __init__(self, waits: dict[str, float] | None = None):
        self.calls: list[tuple] = []
        self.waits = waits or {}

    async def enqueue(self, call_id: str, channel: str, route: RouteRequest,
                      customer: CustomerFacts | None = None) -> QueuedCall:
        self.calls.append(("enqueue", call_id, channel, route, customer))
        return QueuedCall(call_id=call_id, channel=channel, queue=route.queue, skills=route.skills,
                          language=route.language, priority=route.priority, enqueued_at=0.0,
                          queue_entered_at=0.0, rank_key=0.0, customer=customer or CustomerFacts())

    async def estimated_wait(self, queue: str) -> float | None:
        return self.waits.get(queue)

    async def agent_ringing(self, agent_id: str, call_id: str) -> None:
        self.calls.append(("agent_ringing", agent_id, call_id))

    async def agent_answered(self, agent_id: str, call_id: str) -> None:
        self.calls.append(("agent_answered", agent_id, call_id))

    async def ring_no_answer(self, agent_id: str, call_id: str) -> None:
        self.calls.append(("ring_no_answer", agent_id, call_id))

    async def call_ended(self, call_id: str) -> None:
        self.calls.append(("call_ended", call_id))

    async def caller_abandoned(self, call_id: str) -> None:
        self.calls.append(("caller_abandoned", call_id))

    async def agent_leg_ended(self, agent_id: str, call_id: str, *, wrapup: bool = True) -> None:
        self.calls.append(("agent_leg_ended", agent_id, call_id, {"wrapup": wrapup}))


class RecordingDesk:
    """The DeskPort: what each agent's desk was told, in order."""

    def __init__(self):
        self.messages = []

    async def offer(self, agent_id, pop):
        self.messages.append(("offer", agent_id, pop))

    async def answered(self, agent_id, pop):
        self.messages.append(("answered", agent_id, pop))

    async def withdrawn(self, agent_id, pop, reason):
        self.messages.append(("withdrawn", agent_id, pop, reason.value))

    async def ended(self, agent_id, pop):
        self.messages.append(("ended", agent_id, pop))

    def told(self):
        return [(m[0], m[1], *m[3:]) for m in self.messages]
