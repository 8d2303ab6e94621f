"""What the store needs from a database engine, and the shapes the engines hand back.

Two engines implement it: backend_sqlite.py (stdlib sqlite3 in worker threads) and
backend_pg.py (asyncpg). Both turn "the database cannot be reached right now" — refused or
dropped connections, timeouts, a missing file, a locked file, a schema not migrated yet —
into `CrmUnavailable`, which callers treat as transient (retry, spool, degrade). Anything
else (a constraint violated, a value out of range) is a real error and propagates as is.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from gateway.crm.views import ActivitySummary, CaseSummary, OrderSummary


class CrmUnavailable(Exception):
    """The CRM database cannot be reached now; the operation may succeed later."""


@dataclass(slots=True)
class CustomerRecord:
    """One customer as a lookup reads them, in plain Python types."""

    id: int
    name: str
    language: str | None
    tier: str
    segment: str | None
    lifetime_value: Decimal
    account_number: str | None
    notes: str | None
    is_lead: bool
    last_agent_id: str | None
    calls_since: int
    recent_activities: list[ActivitySummary] = field(default_factory=list)
    open_cases: list[CaseSummary] = field(default_factory=list)


def money(value) -> Decimal:
    """A NUMERIC column as Decimal with cents (SQLite hands back floats or ints)."""
    if value is None:
        return Decimal("0.00")
    if not isinstance(value, Decimal):
        value = Decimal(str(value))
    return value.quantize(Decimal("0.01"))


class Backend(Protocol):
    engine: str  # "sqlite" or "postgresql"

    async def lookup_by_phone(self, e164: str, since: datetime) -> CustomerRecord | None: ...
    async def lookup_by_account(self, account_number: str, since: datetime) -> CustomerRecord | None: ...
    async def create_lead(self, e164: str, language: str | None, now: datetime) -> tuple[int, bool]: ...
    async def account_number_of(self, customer_id: int) -> str | None: ...
    async def latest_open_case(self, customer_id: int) -> CaseSummary | None: ...
    async def recent_orders(self, customer_id: int, limit: int) -> list[OrderSummary]: ...
    async def write_call_activity(self, params: dict) -> int: ...
    async def write_wrapup(self, params: dict) -> int: ...
    async def write_wrapup_timeout(self, params: dict) -> int: ...
    async def ping(self) -> None: ...
    async def close(self) -> None: ...
