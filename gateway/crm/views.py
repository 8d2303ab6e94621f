"""What a lookup returns: the caller as the IVR, the ACD and the agent's screen pop see them.

Plain dataclasses (slotted: a lookup builds dozens of them), no database in sight;
`to_dict()` gives the JSON-safe form the desk sends over its WebSocket (datetimes as ISO 8601 UTC, money as a decimal string).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from gateway.crm.numbers import Ani

# A caller is a repeat caller when they had at least this many earlier inbound calls in the
# last REPEAT_WINDOW_DAYS days. The call being looked up is not logged yet, so 2 means "this
# is at least the third call this week": worth routing to the agent who handled it last.
REPEAT_CALLER_MIN_CALLS = 2
REPEAT_WINDOW_DAYS = 7
RECENT_ACTIVITY_LIMIT = 20
OPEN_CASE_LIMIT = 20


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass(slots=True)
class CaseSummary:
    id: int
    subject: str
    status: str
    priority: str
    opened_at: datetime
    owner: str | None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "subject": self.subject,
            "status": self.status,
            "priority": self.priority,
            "opened_at": _iso(self.opened_at),
            "owner": self.owner,
        }


@dataclass(slots=True)
class ActivitySummary:
    id: int
    kind: str  # call, note, email, case_update
    occurred_at: datetime
    direction: str | None
    channel: str | None
    summary: str | None
    agent_id: str | None
    outcome: str | None
    disposition: str | None = None
    case_id: int | None = None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "occurred_at": _iso(self.occurred_at),
            "direction": self.direction,
            "channel": self.channel,
            "summary": self.summary,
            "agent_id": self.agent_id,
            "outcome": self.outcome,
            "disposition": self.disposition,
            "case_id": self.case_id,
        }


@dataclass(slots=True)
class OrderSummary:
    id: int
    order_number: str
    placed_at: datetime
    status: str
    total: Decimal
    currency: str
    description: str | None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "order_number": self.order_number,
            "placed_at": _iso(self.placed_at),
            "status": self.status,
            "total": str(self.total),
            "currency": self.currency,
            "description": self.description,
        }


@dataclass(slots=True)
class CallerView:
    """Who is calling. `known` is False for unknown numbers, withheld/invalid caller IDs and
    when the CRM could not be reached (`crm_available` False then)."""

    ani: Ani
    known: bool = False
    customer_id: int | None = None
    name: str | None = None
    language: str | None = None  # the customer's, or a guess from the number's country
    tier: str | None = None
    segment: str | None = None
    lifetime_value: Decimal | None = None
    account_number: str | None = None
    notes: str | None = None
    is_lead: bool = False
    recent_activities: list[ActivitySummary] = field(default_factory=list)
    open_cases: list[CaseSummary] = field(default_factory=list)
    last_agent_id: str | None = None
    calls_last_7_days: int = 0
    repeat_caller: bool = False
    lead_created: bool = False
    crm_available: bool = True

    def to_dict(self) -> dict:
        return {
            "known": self.known,
            "ani": self.ani.to_dict(),
            "customer_id": self.customer_id,
            "name": self.name,
            "language": self.language,
            "tier": self.tier,
            "segment": self.segment,
            "lifetime_value": str(self.lifetime_value) if self.lifetime_value is not None else None,
            "account_number": self.account_number,
            "notes": self.notes,
            "is_lead": self.is_lead,
            "recent_activities": [a.to_dict() for a in self.recent_activities],
            "open_cases": [c.to_dict() for c in self.open_cases],
            "last_agent_id": self.last_agent_id,
            "calls_last_7_days": self.calls_last_7_days,
            "repeat_caller": self.repeat_caller,
            "lead_created": self.lead_created,
            "crm_available": self.crm_available,
        }
