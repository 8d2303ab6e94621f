"""The CRM as the gateway uses it: who is calling, and the IVR's self-service questions.

    store = await CrmStore.open(settings.crm_url, region="TR", create_leads=False)
    view = await store.lookup(raw_ani)        # CallerView, never raises
    ok = await store.verify_account(view.customer_id, digits)
    await store.close()

A lookup is one unit of work on the database (see queries.py): profile, last 20 activities,
open cases, last agent, inbound calls in the last 7 days. It never raises: a withheld or
invalid number gives an unknown-caller view without touching the database, and a database
that cannot be reached, or answers too slowly, gives an unknown-caller view with
`crm_available=False` (logged once per outage, not once per call). The self-service methods
raise `CrmUnavailable` instead, so the IVR can say "service unavailable" rather than
"wrong account number".
"""
from __future__ import annotations

import asyncio
import hmac
import logging
import time
from datetime import datetime, timedelta
from typing import Callable

from gateway.crm.backend import Backend, CrmUnavailable, CustomerRecord
from gateway.crm.models import utcnow
from gateway.crm.numbers import Ani, classify_ani, language_for_region
from gateway.crm.urls import parse_crm_url
from gateway.tiers import LEAD_TIER
from gateway.crm.views import (
    REPEAT_CALLER_MIN_CALLS,
    REPEAT_WINDOW_DAYS,
    CallerView,
    CaseSummary,
    OrderSummary,
)

log = logging.getLogger(__name__)

MAX_ACCOUNT_NUMBER_LENGTH = 32


class CrmStore:
    def __init__(
        self,
        backend: Backend,
        *,
        region: str = "TR",
        create_leads: bool = False,
        lookup_timeout: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.backend = backend
        self.region = region
        self.create_leads = create_leads
        self.lookup_timeout = lookup_timeout
        self.clock = clock
        self._outage_started: float | None = None
        self._outage_failures = 0
        self._lookup_observers: list[Callable[[float, str], None]] = []

    @classmethod
    async def open(
        cls,
        url: str,
        region: str = "TR",
        create_leads: bool = False,
        *,
        migrate: bool = False,
        lookup_timeout: float = 1.0,
        sqlite_threads: int = 2,
        pg_pool_size: int = 10,
        clock: Callable[[], datetime] = utcnow,
    ) -> CrmStore:
        """Open the store; it opens even if the database is down (lookups then degrade).

        migrate=True first brings the schema up to date (the gateway's start does this)."""
        crm_url = parse_crm_url(url)
        if migrate:
            from gateway.crm.migrate import upgrade_database_async  # Alembic only when asked

            await upgrade_database_async(url)
        if crm_url.is_sqlite:
            from gateway.crm.backend_sqlite import SqliteBackend

            backend = SqliteBackend(crm_url.sqlite_path, threads=sqlite_threads)
        else:
            from gateway.crm.backend_pg import PostgresBackend

            backend = await PostgresBackend.open(crm_url.pg_dsn, pool_size=pg_pool_size)
        return cls(backend, region=region, create_leads=create_leads, lookup_timeout=lookup_timeout, clock=clock)

    @property
    def engine(self) -> str:
        return self.backend.engine

    async def close(self) -> None:
        await self.backend.close()

    async def ping(self) -> None:
        """Raises CrmUnavailable unless the database answers (readiness checks)."""
        await self.backend.ping()

    def on_lookup(self, observer: Callable[[float, str], None]) -> None:
        """Call `observer(seconds, result)` after each lookup that asked the database (the
        gateway's metrics); result: "found", "not_found" or "failed"."""
        self._lookup_observers.append(observer)

    # -- the caller ------------------------------------------------------------------------
    async def lookup(self, raw_ani) -> CallerView:
        """The caller's view for the IVR, the ACD and the screen pop. Never raises."""
        ani = classify_ani(raw_ani, self.region)
        if not ani.is_number:
            return CallerView(ani=ani)
        started = time.monotonic()
        view = await self._lookup_number(ani)
        self._observe_lookup(time.monotonic() - started, view)
        return view

    async def _lookup_number(self, ani: Ani) -> CallerView:
        try:
            async with asyncio.timeout(self.lookup_timeout):
                record = await self.backend.lookup_by_phone(ani.e164, self._window_start())
                if record is not None:
                    view = self._view(ani, record)
                elif self.create_leads:
                    view = await self._lead_view(ani)
                else:
                    view = CallerView(ani=ani, language=language_for_region(ani.region))
        except Exception as exc:  # CrmUnavailable, a timeout, or a bug: the call goes on
            self._note_failure(exc, ani)
            return CallerView(ani=ani, language=language_for_region(ani.region), crm_available=False)
        self._note_success()
        return view

    async def find_by_account(self, account_number: str, raw_ani=None) -> CallerView | None:
        """The customer with this account number, as a full caller view (e.g. for a caller
        with a withheld number who keyed in their account number); None if there is none.
        Raises CrmUnavailable when the database cannot be reached."""
        account = _clean_account_number(account_number)
        if account is None:
            return None
        record = await self.backend.lookup_by_account(account, self._window_start())
        if record is None:
            return None
        return self._view(classify_ani(raw_ani, self.region), record)

    async def verify_account(self, customer_id: int, account_number: str) -> bool:
        """Whether the account number keyed in is this customer's. Raises CrmUnavailable."""
        account = _clean_account_number(account_number)
        if account is None or not isinstance(customer_id, int) or isinstance(customer_id, bool):
            return False
        actual = await self.backend.account_number_of(customer_id)
        if actual is None:
            return False
        return hmac.compare_digest(actual.encode(), account.encode())

    async def case_status(self, customer_id: int) -> CaseSummary | None:
        """The customer's most recently opened case that is still open. Raises CrmUnavailable."""
        return await self.backend.latest_open_case(customer_id)

    async def recent_orders(self, customer_id: int, limit: int = 5) -> list[OrderSummary]:
        """The customer's last orders, newest first. Raises CrmUnavailable."""
        return await self.backend.recent_orders(customer_id, max(1, min(limit, 50)))

    # -- for the activity log --------------------------------------------------------------
    async def write_call_activity(self, params: dict) -> int:
        return await self.backend.write_call_activity(params)

    async def write_wrapup(self, params: dict) -> int:
        return await self.backend.write_wrapup(params)

    async def write_wrapup_timeout(self, params: dict) -> int:
        return await self.backend.write_wrapup_timeout(params)

    # -- internals -------------------------------------------------------------------------
    def _window_start(self) -> datetime:
        return self.clock() - timedelta(days=REPEAT_WINDOW_DAYS)

    def _view(self, ani: Ani, record: CustomerRecord, lead_created: bool = False) -> CallerView:
        return CallerView(
            ani=ani,
            known=True,
            customer_id=record.id,
            name=record.name or None,
            language=record.language or language_for_region(ani.region),
            tier=record.tier,
            segment=record.segment,
            lifetime_value=record.lifetime_value,
            account_number=record.account_number,
            notes=record.notes,
            is_lead=record.is_lead,
            recent_activities=record.recent_activities,
            open_cases=record.open_cases,
            last_agent_id=record.last_agent_id,
            calls_last_7_days=record.calls_since,
            repeat_caller=record.calls_since >= REPEAT_CALLER_MIN_CALLS,
            lead_created=lead_created,
        )

    async def _lead_view(self, ani: Ani) -> CallerView:
        language = language_for_region(ani.region)
        customer_id, created = await self.backend.create_lead(ani.e164, language, self.clock())
        if created:
            log.info("created lead customer %s for unknown caller %s", customer_id, ani.display)
            return CallerView(ani=ani, customer_id=customer_id, language=language, tier=LEAD_TIER,
                              is_lead=True, lead_created=True)
        # Another call created it a moment ago: show what is there now.
        record = await self.backend.lookup_by_phone(ani.e164, self._window_start())
        if record is None:
            return CallerView(ani=ani, language=language)
        return self._view(ani, record)

    def _observe_lookup(self, seconds: float, view: CallerView) -> None:
        result = "failed" if not view.crm_available else "found" if view.customer_id is not None else "not_found"
        for observer in self._lookup_observers:
            try:
                observer(seconds, result)
            except Exception:
                log.exception("CRM lookup observer %r failed", observer)

    def _note_failure(self, exc: BaseException, ani: Ani) -> None:
        if not isinstance(exc, (CrmUnavailable, TimeoutError)):
            log.error("CRM lookup failed for %s; caller shown as unknown", ani.display, exc_info=exc)
            return
        self._outage_failures += 1
        if self._outage_started is None:
            self._outage_started = time.monotonic()
            reason = "lookup timed out" if isinstance(exc, TimeoutError) else str(exc)
            log.warning("CRM unavailable, callers shown as unknown until it is back: %s", reason)

    def _note_success(self) -> None:
        if self._outage_started is not None:
            log.warning("CRM available again after %.1f s (%d lookups answered as unknown)",
                        time.monotonic() - self._outage_started, self._outage_failures)
            self._outage_started = None
            self._outage_failures = 0


def _clean_account_number(value) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_ACCOUNT_NUMBER_LENGTH or not value.isprintable():
        return None
    return value
