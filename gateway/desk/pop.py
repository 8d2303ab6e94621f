"""The screen pop as the agent's desktop receives it: the wire format, as pydantic models.

Every message on an agent's channel is one DeskMessage: the kind of news (`offer` when the
phone starts ringing, `answered`, `withdrawn` with a reason, `ended` when the page goes to
after-call work), a per-agent `version` that only grows (so a page can order messages and
drop stale ones), and the whole pop, so any single message is enough to draw the screen.

Everything that came from a caller or a customer record is kept as data: markup, SQL and
quotes pass through unchanged for the page to render as text; control characters are dropped
and every string and list is bounded, so a 10 KB name cannot make a 10 KB pop.
"""
from __future__ import annotations

import enum
import unicodedata
from typing import Annotated, Any, Literal, Mapping

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

RECENT_ACTIVITIES = 10  # what the pop shows; the customer view pages through the rest
OPEN_CASES = 20
IVR_STEPS = 50
IVR_INPUTS = 20


def _clip(limit: int, *, multiline: bool = False):
    keep = {"\n", "\t"} if multiline else set()

    def clip(value: Any) -> Any:
        if value is None:
            return None
        text = str(value)[: limit * 2]  # bound the work first
        if not text.isprintable():  # (printable: no control/format characters to look for, the usual case)
            text = "".join(ch if ch in keep or unicodedata.category(ch)[0] != "C" else ("" if multiline else " ")
                           for ch in text)
        if not multiline:
            text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    return BeforeValidator(clip)


def _first(limit: int):
    return BeforeValidator(lambda items: list(items)[:limit] if items is not None else [])


def _first_items(limit: int):
    return BeforeValidator(lambda mapping: dict(list(dict(mapping or {}).items())[:limit]))


Name = Annotated[str, _clip(200)]
Short = Annotated[str, _clip(64)]
Prose = Annotated[str, _clip(500, multiline=True)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class CaseCard(_Model):
    id: int
    subject: Name
    status: Short
    priority: Short
    opened_at: str | None = None  # ISO 8601 UTC
    owner: Short | None = None


class ActivityCard(_Model):
    id: int
    kind: Short
    occurred_at: str | None = None  # ISO 8601 UTC
    direction: Short | None = None
    channel: Short | None = None
    summary: Prose | None = None
    agent_id: Short | None = None
    outcome: Short | None = None
    disposition: Short | None = None
    case_id: int | None = None


class CallerCard(_Model):
    """Who is calling. `known` False: the page says "unknown caller" beside the number."""

    known: bool = False
    name: Name | None = None
    number: Short | None = None  # international format (+90 532 123 45 67); None: not a number
    number_e164: Short | None = None
    number_kind: Short = "unknown"  # number, withheld, anonymous, unknown, empty, invalid
    number_display: Short = ""  # what the network sent, display-safe (withheld numbers, junk)
    customer_id: int | None = None
    account_number: Short | None = None
    tier: Short | None = None
    segment: Short | None = None
    lifetime_value: Short | None = None  # a decimal string: money is never a float
    language: Short | None = None
    is_lead: bool = False
    open_cases: Annotated[list[CaseCard], _first(OPEN_CASES)] = Field(default_factory=list)
    recent_activities: Annotated[list[ActivityCard], _first(RECENT_ACTIVITIES)] = Field(default_factory=list)
    last_agent_id: Short | None = None
    repeat_caller: bool = False
    calls_last_7_days: int = 0
    crm_available: bool = True


class Routing(_Model):
    """Why the ACD chose this agent (gateway.acd.reasons.MatchReason, as the ACD recorded it)."""

    rule: Short
    candidates: int = 0
    stage: int = 0
    min_proficiency: int = 0
    team: Short | None = None
    skills: Annotated[list[Short], _first(16)] = Field(default_factory=list)
    language: Short | None = None
    proficiency: Annotated[dict[Short, int], _first_items(16)] = Field(default_factory=dict)
    idle_seconds: float = 0.0


class TransferNote(_Model):
    """A transferred call: who passed it on, and their note for the next agent (kept as data)."""

    from_agent: Short
    note: Annotated[str, _clip(1000, multiline=True)] = ""


class ScreenPop(_Model):
    call_id: Short
    direction: Literal["inbound", "outbound"] = "inbound"  # outbound: the agent's own click-to-dial
    dnis: Short = ""
    caller: CallerCard
    language: Short | None = None  # the call's: chosen in the IVR, else the customer's
    ivr_path: Annotated[list[Short], _first(IVR_STEPS)] = Field(default_factory=list)
    # What the caller keyed, by menu or variable; sensitive digits arrive masked by the IVR.
    ivr_inputs: Annotated[dict[Short, Short], _first_items(IVR_INPUTS)] = Field(default_factory=dict)
    queue: Short | None = None
    waited_seconds: float = 0.0  # in the queue, until this agent's phone rang
    ringing_at: float | None = None  # epoch seconds
    answered_at: float | None = None
    routing: Routing | None = None
    transfer: TransferNote | None = None


class DeskKind(str, enum.Enum):
    OFFER = "offer"  # the agent's phone rings
    ANSWERED = "answered"
    WITHDRAWN = "withdrawn"  # the call is no longer this agent's (see WithdrawReason)
    ENDED = "ended"  # the answered call is over: after-call work


class WithdrawReason(str, enum.Enum):
    CALLER_HUNG_UP = "caller_hung_up"
    NO_ANSWER = "no_answer"  # rang out: the call goes on to another agent
    TAKEN_ELSEWHERE = "taken_elsewhere"  # another agent answered it
    TRANSFERRED = "transferred"  # moved on before this agent answered


class DeskMessage(_Model):
    version: int = 0  # set by the desk service: grows with every message to this agent
    kind: DeskKind
    agent_id: Short
    call_id: Short
    at: float  # epoch seconds
    reason: WithdrawReason | None = None  # withdrawn only
    pop: ScreenPop

    @property
    def live(self) -> bool:
        """The call is still this agent's (ringing or talking)."""
        return self.kind in (DeskKind.OFFER, DeskKind.ANSWERED)


def caller_card(caller: Any, raw_ani: str) -> CallerCard:
    """The CRM's CallerView (or None: no lookup, e.g. the CRM was unreachable) as a card."""
    ani = getattr(caller, "ani", None)
    kind = getattr(ani, "kind", None) or "unknown"
    display = getattr(ani, "display", None)
    if display is None:
        display = raw_ani
    if caller is None:
        return CallerCard(number_kind=kind, number_display=display, crm_available=False)
    value = getattr(caller, "lifetime_value", None)
    return CallerCard(
        known=bool(getattr(caller, "known", False)),
        name=getattr(caller, "name", None) or None,
        number=display if kind == "number" else None,
        number_e164=getattr(ani, "e164", None),
        number_kind=kind,
        number_display=display,
        customer_id=getattr(caller, "customer_id", None),
        account_number=getattr(caller, "account_number", None),
        tier=getattr(caller, "tier", None),
        segment=getattr(caller, "segment", None),
        lifetime_value=str(value) if value is not None else None,
        language=getattr(caller, "language", None),
        is_lead=bool(getattr(caller, "is_lead", False)),
        open_cases=[c.to_dict() for c in (getattr(caller, "open_cases", None) or ())[:OPEN_CASES]],
        recent_activities=[a.to_dict() for a in (getattr(caller, "recent_activities", None) or ())[:RECENT_ACTIVITIES]],
        last_agent_id=getattr(caller, "last_agent_id", None),
        repeat_caller=bool(getattr(caller, "repeat_caller", False)),
        calls_last_7_days=int(getattr(caller, "calls_last_7_days", 0) or 0),
        crm_available=bool(getattr(caller, "crm_available", True)),
    )


def build_pop(*, call_id: str, caller: Any, raw_ani: str, dnis: str = "", language: str | None = None,
              ivr_path=(), ivr_inputs: Mapping[str, str] | None = None, queue: str | None = None,
              waited_seconds: float = 0.0, ringing_at: float | None = None, answered_at: float | None = None,
              routing: Mapping[str, Any] | None = None, direction: str = "inbound",
              transfer: Mapping[str, Any] | None = None) -> ScreenPop:
    return ScreenPop(
        call_id=call_id, direction=direction, dnis=dnis or "", caller=caller_card(caller, raw_ani),
        language=language or getattr(caller, "language", None),
        ivr_path=list(ivr_path), ivr_inputs=dict(ivr_inputs or {}), queue=queue,
        waited_seconds=round(max(0.0, waited_seconds), 1), ringing_at=ringing_at, answered_at=answered_at,
        routing=dict(routing) if routing else None, transfer=dict(transfer) if transfer else None,
    )
