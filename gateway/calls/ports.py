"""The CRM, the ACD and the agents' desks as the call layer sees them: the only methods it may call.

The real ones are gateway.crm.store.CrmStore, gateway.acd.service.Acd and
gateway.desk.service.DeskService; test doubles
implement exactly these (tests/unit/test_contracts.py holds both sides to them).
"""
from __future__ import annotations

from typing import Any, Protocol

from gateway.acd.model import CustomerFacts, QueuedCall
from gateway.crm.views import CallerView, CaseSummary
from gateway.desk.pop import ScreenPop, WithdrawReason
from gateway.routing import RouteRequest


class CrmPort(Protocol):
    async def lookup(self, raw_ani: str) -> CallerView:
        """The caller's view; never raises (an unknown caller when the CRM cannot tell)."""

    async def verify_account(self, customer_id: int, account_number: str) -> bool:
        """Whether the account number keyed in is this customer's."""

    async def case_status(self, customer_id: int) -> CaseSummary | None:
        """The customer's latest open case."""


class AcdPort(Protocol):
    async def enqueue(self, call_id: str, channel: str, route: RouteRequest,
                      customer: CustomerFacts | None = None) -> QueuedCall:
        """Queue the call the IVR routed (connected at once if a suitable agent is free)."""

    async def estimated_wait(self, queue: str) -> float | None:
        """Roughly how long a call joining `queue` now would wait."""

    async def agent_ringing(self, agent_id: str, call_id: str) -> None: ...
    async def agent_answered(self, agent_id: str, call_id: str) -> None: ...
    async def ring_no_answer(self, agent_id: str, call_id: str) -> None: ...
    async def call_ended(self, call_id: str) -> None: ...
    async def caller_abandoned(self, call_id: str) -> None: ...
    async def agent_leg_ended(self, agent_id: str, call_id: str, *, wrapup: bool = True) -> Any: ...


class DeskPort(Protocol):
    """The agents' desks: each message goes to that agent only."""

    async def offer(self, agent_id: str, pop: ScreenPop) -> Any: ...
    async def answered(self, agent_id: str, pop: ScreenPop) -> Any: ...
    async def withdrawn(self, agent_id: str, pop: ScreenPop, reason: WithdrawReason) -> Any: ...
    async def ended(self, agent_id: str, pop: ScreenPop) -> Any: ...
