"""The agent desk's wire format (pydantic): what the desk page sends to /desk/api and gets back.

Request bodies are strict (no type coercion, no unknown fields); text a person typed is kept
as typed (the page renders it as text) but bounded, and control characters are refused where
the service refuses them too, so the error names the field. Every error is `{"error": "..."}`.
"""
from __future__ import annotations

import unicodedata
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from gateway.api.schemas import AgentStatus
from gateway.calls.agent_actions import NOTE_LIMIT
from gateway.crm.directory import MAX_NAME_LENGTH, MAX_QUERY_LENGTH, MAX_SUBJECT_LENGTH
from gateway.desk.wrapup import MAX_NOTES

MAX_ID = 2**63 - 1
LINKEDID_MAX = 64


def _no_controls(value: str | None, allowed: frozenset[str] = frozenset()) -> str | None:
    if value is not None and any(unicodedata.category(ch) in ("Cc", "Cs") and ch not in allowed for ch in value):
        raise ValueError("must not contain control characters")
    return value


def _no_controls_but_lines(value: str | None) -> str | None:
    return _no_controls(value, frozenset("\n\r\t"))


Line = Annotated[str, AfterValidator(_no_controls)]
Text = Annotated[str, AfterValidator(_no_controls_but_lines)]
Linkedid = Annotated[str, Field(min_length=1, max_length=LINKEDID_MAX), AfterValidator(_no_controls)]
PhoneText = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_no_controls)]
Id = Annotated[int, Field(gt=0, le=MAX_ID)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# -- the agent and their state ------------------------------------------------------------------
class Reason(BaseModel):
    code: str
    label: str = Field(description="in the agent's language")
    tr: str
    en: str


class Me(BaseModel):
    username: str
    display_name: str
    agent_id: str
    locale: Literal["tr", "en"]
    status: AgentStatus
    server_time: float = Field(description="Unix time now, for the time-in-state clock")
    not_ready_reasons: list[Reason]


class StateChange(_Body):
    state: Literal["ready", "not_ready", "logout"]
    reason: Annotated[str, Field(min_length=1, max_length=32)] | None = Field(
        None, description="for not_ready: one of the codes GET /desk/api/me lists")


# -- customers -----------------------------------------------------------------------------------
class CustomerHit(BaseModel):
    id: int
    name: str
    account_number: str | None
    tier: str
    language: str | None
    is_lead: bool
    phones: list[str]
    matched_by: Literal["name", "account_number", "phone"]


class SearchResult(BaseModel):
    query: str
    hits: list[CustomerHit]


class Phone(BaseModel):
    e164: str
    label: str | None
    is_primary: bool


class Case(BaseModel):
    id: int
    subject: str
    status: str
    priority: str
    opened_at: str | None
    owner: str | None


class Activity(BaseModel):
    id: int
    kind: str
    occurred_at: str | None
    direction: str | None
    channel: str | None
    summary: str | None
    agent_id: str | None
    outcome: str | None
    disposition: str | None
    case_id: int | None
    notes: str | None


class ActivityPage(BaseModel):
    items: list[Activity]
    next_before: int | None = Field(description="ask for the next (older) page with ?before=this; null at the end")


class Order(BaseModel):
    id: int
    order_number: str
    placed_at: str | None
    status: str
    total: str
    currency: str
    description: str | None


class CustomerView(BaseModel):
    id: int
    name: str
    account_number: str | None
    language: str | None
    tier: str
    segment: str | None
    lifetime_value: str
    notes: str | None
    is_lead: bool
    phones: list[Phone]
    cases: list[Case]
    activities: ActivityPage
    orders: list[Order]


class LinkNumber(_Body):
    number: PhoneText
    linkedid: Linkedid | None = Field(None, description="the call this number called from (yours)")


class NumberLinked(BaseModel):
    customer_id: int
    e164: str


class NewCustomer(_Body):
    name: Annotated[Line, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] | None = None
    number: PhoneText | None = None
    linkedid: Linkedid | None = Field(None, description="the call the customer is on (yours)")


class CustomerCreated(BaseModel):
    customer_id: int


# -- calls -------------------------------------------------------------------------------------
class Dial(_Body):
    number: PhoneText


class Dialled(BaseModel):
    linkedid: str
    number: str = Field(description="E.164")


class Transfer(_Body):
    queue: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    agent: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    note: Annotated[Text, Field(max_length=NOTE_LIMIT)] = ""

    @model_validator(mode="after")
    def _one_target(self):
        if (self.queue is None) == (self.agent is None):
            raise ValueError("name either a queue or an agent")
        return self


class Transferred(BaseModel):
    linkedid: str
    queue: str | None
    agent: str | None


class DispositionChoice(BaseModel):
    code: str
    label: str


class WrapupForm(BaseModel):
    linkedid: str
    queue: str | None
    mode: Literal["optional", "mandatory"]
    deadline: float | None = Field(description="Unix time the wrap-up ends at; null when not wrapping up now")
    dispositions: list[DispositionChoice]
    customer_id: int | None
    open_cases: list[Case]


class OpenCaseBody(_Body):
    subject: Annotated[Line, Field(min_length=1, max_length=MAX_SUBJECT_LENGTH)]
    priority: Literal["low", "normal", "high", "urgent"] = "normal"


class UpdateCaseBody(_Body):
    case_id: Id
    status: Literal["open", "pending", "resolved", "closed"] | None = None
    priority: Literal["low", "normal", "high", "urgent"] | None = None


class WrapupSave(_Body):
    disposition: Annotated[str, Field(min_length=1, max_length=64)]
    notes: Annotated[Text, Field(max_length=MAX_NOTES)] | None = None
    open_case: OpenCaseBody | None = None
    update_case: UpdateCaseBody | None = None
    finish: bool = True

    @model_validator(mode="after")
    def _one_case_action(self):
        if self.open_case is not None and self.update_case is not None:
            raise ValueError("open a case or update one, not both")
        return self


class WrapupSaved(BaseModel):
    linkedid: str
    disposition: str
    activity_id: int | None
    spooled: bool = Field(description="the CRM was down: written when it is back")
    case: Case | None
    case_error: str | None
    agent_state: str


QUERY_MAX = MAX_QUERY_LENGTH
