"""The CRM as an agent works it: search, the customer view, numbers, new customers, cases.

    directory = await CustomerDirectory.open(settings.crm_url, region="TR")
    hits = await directory.search("ışık")                 # name, account number or phone
    view = await directory.customer_view(hits[0].id)      # profile, numbers, cases, history, orders
    older = await directory.activities(view.id, before=view.activities.next_before)
    await directory.link_number(customer_id, "0532 123 45 67")
    customer_id = await directory.create_customer("Ayşe Işık", "tr", "+905551112233")
    case = await directory.open_case(customer_id, "Fatura itirazı", owner="1001")
    await directory.close()

These run when an agent clicks, not on a call's hot path, so they are written once with
SQLAlchemy Core on its sync engine (sqlite3 or psycopg) and run in a worker thread, the same
statements on both engines. Every value is a bound parameter. Names are matched on
`customers.name_folded` (folding.py), so "ISIK", "isik" and "ışık" all find "Işık" on
SQLite and PostgreSQL alike. A database that cannot be reached raises `CrmUnavailable`.
"""
from __future__ import annotations

import asyncio
import re
import sqlite3
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote

from sqlalchemy import and_, case, create_engine, insert, literal, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql as pg_dialect, sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.pool import NullPool

from gateway.crm import models as m
from gateway.crm.backend import CrmUnavailable, money
from gateway.crm.folding import fold_name
from gateway.crm.numbers import classify_ani
from gateway.crm.urls import parse_crm_url
from gateway.crm.views import ActivitySummary, CaseSummary, OrderSummary

MAX_QUERY_LENGTH = 200
MIN_NAME_QUERY_LENGTH = 2  # one letter would match half the CRM
MAX_SEARCH_RESULTS = 50
MAX_PAGE_SIZE = 100
MAX_NAME_LENGTH = 200
MAX_SUBJECT_LENGTH = 200
_ACCOUNT = re.compile(r"[A-Za-z0-9\-]{1,32}")
_LANGUAGE = re.compile(r"[a-z]{2}")
_CLOSING_STATUSES = frozenset({"resolved", "closed"})


class DirectoryError(ValueError):
    """A request the CRM cannot carry out as asked; the message is safe to show the agent."""


class CustomerNotFound(DirectoryError):
    pass


class CaseNotFound(DirectoryError):
    pass


class NumberTaken(DirectoryError):
    def __init__(self, e164: str, owner_id: int):
        super().__init__(f"{e164} already belongs to customer {owner_id}")
        self.e164 = e164
        self.owner_id = owner_id


@dataclass(slots=True)
class CustomerHit:
    id: int
    name: str
    account_number: str | None
    tier: str
    language: str | None
    is_lead: bool
    phones: list[str] = field(default_factory=list)
    matched_by: str = "name"  # name, account_number, phone

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "account_number": self.account_number, "tier": self.tier,
                "language": self.language, "is_lead": self.is_lead, "phones": list(self.phones),
                "matched_by": self.matched_by}


@dataclass(slots=True)
class PhoneEntry:
    e164: str
    label: str | None
    is_primary: bool

    def to_dict(self) -> dict:
        return {"e164": self.e164, "label": self.label, "is_primary": self.is_primary}


@dataclass(slots=True)
class HistoryEntry(ActivitySummary):
    """An activity in the customer view: as the pop lists it, with the agent's wrap-up notes."""

    notes: str | None = None

    def to_dict(self) -> dict:
        return {**ActivitySummary.to_dict(self), "notes": self.notes}


@dataclass(slots=True)
class ActivityPage:
    """Newest first. `next_before` is the id to ask for the next (older) page with; None at the end."""

    items: list[HistoryEntry]
    next_before: int | None

    def to_dict(self) -> dict:
        return {"items": [a.to_dict() for a in self.items], "next_before": self.next_before}


@dataclass(slots=True)
class CustomerView:
    id: int
    name: str
    account_number: str | None
    language: str | None
    tier: str
    segment: str | None
    lifetime_value: object
    notes: str | None
    is_lead: bool
    phones: list[PhoneEntry]
    cases: list[CaseSummary]  # open ones first, then the newest
    activities: ActivityPage
    orders: list[OrderSummary]

    def to_dict(self) -> dict:
        return {"id": self.id, "name": self.name, "account_number": self.account_number, "language": self.language,
                "tier": self.tier, "segment": self.segment, "lifetime_value": str(self.lifetime_value),
                "notes": self.notes, "is_lead": self.is_lead, "phones": [p.to_dict() for p in self.phones],
                "cases": [c.to_dict() for c in self.cases], "activities": self.activities.to_dict(),
                "orders": [o.to_dict() for o in self.orders]}


@dataclass(slots=True)
class CallRecord:
    """What the CRM holds of one call (for the wrap-up's checks)."""

    linkedid: str
    customer_id: int | None
    agent_id: str | None
    queue: str | None
    e164: str | None
    disposition: str | None


class CustomerDirectory:
    def __init__(self, engine: Engine, *, region: str = "TR"):
        self.engine = engine
        self.region = region

    @classmethod
    async def open(cls, url: str, *, region: str = "TR", pool_size: int = 4) -> CustomerDirectory:
        return cls(directory_engine(url, pool_size=pool_size), region=region)

    async def close(self) -> None:
        await asyncio.to_thread(self.engine.dispose)

    # -- search -------------------------------------------------------------------------
    async def search(self, text: str, limit: int = 20) -> list[CustomerHit]:
        """One search box: an account number, a phone number in any format, or a name.

        A name search reads every folded name (about 35 ms for 200,000 customers on SQLite
        here); account numbers and phone numbers are indexed lookups."""
        query = _query_text(text)
        limit = _bounded(limit, MAX_SEARCH_RESULTS)
        e164 = self._e164_or_none(query)
        account = query if _ACCOUNT.fullmatch(query) and any(ch.isdigit() for ch in query) else None
        folded = fold_name(query)
        # Digits alone are a number, never a name: no scan of every name for them.
        has_letters = any(ch.isalpha() for ch in folded)
        by_name = folded if has_letters and len(folded.replace(" ", "")) >= MIN_NAME_QUERY_LENGTH else None
        if e164 is None and account is None and by_name is None:
            raise DirectoryError(f"type at least {MIN_NAME_QUERY_LENGTH} letters, an account number or a phone number")
        return await self._run(_search, e164, account, by_name, limit)

    async def search_by_name(self, text: str, limit: int = 20) -> list[CustomerHit]:
        folded = fold_name(_query_text(text))
        if len(folded.replace(" ", "")) < MIN_NAME_QUERY_LENGTH:
            raise DirectoryError(f"type at least {MIN_NAME_QUERY_LENGTH} letters of the name")
        return await self._run(_search, None, None, folded, _bounded(limit, MAX_SEARCH_RESULTS))

    async def search_by_account(self, text: str) -> list[CustomerHit]:
        query = _query_text(text)
        if not _ACCOUNT.fullmatch(query):
            raise DirectoryError("an account number has letters, digits and '-' only, at most 32")
        return await self._run(_search, None, query, None, 1)

    async def search_by_phone(self, text: str) -> list[CustomerHit]:
        e164 = self._e164_or_none(_query_text(text))
        if e164 is None:
            raise DirectoryError("not a phone number")
        return await self._run(_search, e164, None, None, 1)

    # -- the customer view --------------------------------------------------------------
    async def customer_view(self, customer_id: int, *, activity_limit: int = 20, order_limit: int = 5
                            ) -> CustomerView:
        _check_id(customer_id)
        return await self._run(_customer_view, customer_id, _bounded(activity_limit, MAX_PAGE_SIZE),
                               _bounded(order_limit, 50))

    async def activities(self, customer_id: int, *, before: int | None = None, limit: int = 20) -> ActivityPage:
        """A page of the customer's history, newest first, older than activity `before`."""
        _check_id(customer_id)
        if before is not None:
            _check_id(before)
        return await self._run(_activity_page, customer_id, before, _bounded(limit, MAX_PAGE_SIZE))

    # -- numbers and new customers ------------------------------------------------------
    async def link_number(self, customer_id: int, raw_number: str, *, label: str | None = None,
                          linkedid: str | None = None) -> str:
        """Give the customer this number (E.164 returned). A number held by a lead (a
        placeholder for an unknown caller) moves over with the lead's calls; one held by
        another customer raises NumberTaken. With `linkedid`, that call is the customer's too,
        also while it is live: its activity, written when it ends, lands on this customer."""
        _check_id(customer_id)
        e164 = self._e164(raw_number)
        return await self._run(_link_number, customer_id, e164, _label(label), _linkedid_or_none(linkedid))

    async def create_customer(self, name: str, language: str | None, raw_number: str | None = None, *,
                              linkedid: str | None = None) -> int:
        """A new customer from a call: name, language and the caller's number. If the number
        belongs to a lead, that lead becomes the customer (its calls stay with it)."""
        clean = _clean_text(name, "name", MAX_NAME_LENGTH)
        if language is not None:
            language = str(language).strip().lower() or None
            if language is not None and not _LANGUAGE.fullmatch(language):
                raise DirectoryError("language must be a two-letter code (tr, en, ...)")
        e164 = self._e164(raw_number) if raw_number is not None else None
        return await self._run(_create_customer, clean, language, e164, _linkedid_or_none(linkedid))

    # -- cases --------------------------------------------------------------------------
    async def open_case(self, customer_id: int, subject: str, *, priority: str = "normal",
                        owner: str | None = None) -> CaseSummary:
        _check_id(customer_id)
        subject = _clean_text(subject, "subject", MAX_SUBJECT_LENGTH)
        if priority not in m.CASE_PRIORITIES:
            raise DirectoryError(f"priority must be one of {', '.join(m.CASE_PRIORITIES)}")
        return await self._run(_open_case, customer_id, subject, priority, _owner(owner))

    async def update_case(self, customer_id: int, case_id: int, *, status: str | None = None,
                          priority: str | None = None, owner: str | None = None) -> CaseSummary:
        """Change one of the customer's open cases; resolving or closing it closes it."""
        _check_id(customer_id)
        _check_id(case_id)
        if status is not None and status not in m.CASE_STATUSES:
            raise DirectoryError(f"status must be one of {', '.join(m.CASE_STATUSES)}")
        if priority is not None and priority not in m.CASE_PRIORITIES:
            raise DirectoryError(f"priority must be one of {', '.join(m.CASE_PRIORITIES)}")
        return await self._run(_update_case, customer_id, case_id, status, priority, _owner(owner))

    async def open_cases(self, customer_id: int) -> list[CaseSummary]:
        _check_id(customer_id)
        return await self._run(_open_cases, customer_id)

    # -- calls --------------------------------------------------------------------------
    async def call_record(self, linkedid: str) -> CallRecord | None:
        return await self._run(_call_record, _linkedid_or_none(linkedid))

    # -- internals ----------------------------------------------------------------------
    def _e164_or_none(self, text: str) -> str | None:
        if not any(ch.isdigit() for ch in text) or any(ch.isalpha() for ch in text):
            return None
        return classify_ani(text, self.region).e164

    def _e164(self, raw) -> str:
        e164 = self._e164_or_none(raw) if isinstance(raw, str) and len(raw) <= 64 else None
        if e164 is None:
            raise DirectoryError("not a phone number")
        return e164

    async def _run(self, fn, *args):
        return await asyncio.to_thread(in_transaction, self.engine, fn, *args)


def directory_engine(url: str, *, pool_size: int = 4) -> Engine:
    crm_url = parse_crm_url(url)
    if crm_url.is_sqlite:
        path = crm_url.sqlite_path

        def connect():  # read-write, never creating an empty CRM where the file went missing
            conn = sqlite3.connect(f"file:{quote(str(path))}?mode=rw", uri=True, timeout=2.0,
                                   check_same_thread=False)
            conn.execute("PRAGMA foreign_keys = ON")
            return conn

        # A connection per operation (cheap for a local file): a CRM file moved, deleted or
        # replaced under the gateway is seen at once, never read stale through an old handle.
        return create_engine("sqlite://", creator=connect, poolclass=NullPool)
    return create_engine(crm_url.sqlalchemy_url, pool_size=pool_size, pool_pre_ping=True,
                         connect_args={"connect_timeout": 2, "options": "-c statement_timeout=5000"})


def in_transaction(engine: Engine, fn, *args):
    """fn(conn, *args) in one transaction; a database that is down or gone is CrmUnavailable."""
    try:
        with engine.begin() as conn:
            return fn(conn, *args)
    except IntegrityError:
        raise
    except (OperationalError, DBAPIError) as exc:
        if isinstance(exc, OperationalError) or exc.connection_invalidated:
            raise CrmUnavailable(f"CRM: {type(exc.orig).__name__}: {exc.orig}") from exc
        raise


# -- validation ----------------------------------------------------------------------------
def _query_text(text) -> str:
    if not isinstance(text, str):
        raise DirectoryError("search text must be text")
    text = text.strip()
    if not text:
        raise DirectoryError("type a name, an account number or a phone number")
    if len(text) > MAX_QUERY_LENGTH:
        raise DirectoryError(f"search text is longer than {MAX_QUERY_LENGTH} characters")
    return text


def _clean_text(value, what: str, limit: int) -> str:
    if not isinstance(value, str):
        raise DirectoryError(f"{what} must be text")
    value = " ".join(value.split())
    if not value:
        raise DirectoryError(f"{what} is empty")
    if len(value) > limit:
        raise DirectoryError(f"{what} is longer than {limit} characters")
    if not value.isprintable():
        raise DirectoryError(f"{what} has control characters")
    return value


def _check_id(value) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value < 2**63:
        raise DirectoryError(f"not an id: {value!r}"[:80])


def _bounded(limit, maximum: int) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise DirectoryError("limit must be a whole number")
    return max(1, min(limit, maximum))


def _label(label) -> str | None:
    if label is None:
        return None
    return _clean_text(label, "label", 16)


def _owner(owner) -> str | None:
    return None if owner is None else _clean_text(str(owner), "owner", 64)


def _linkedid_or_none(linkedid) -> str | None:
    if linkedid is None:
        return None
    if not isinstance(linkedid, str) or not linkedid.strip() or len(linkedid) > 64 or not linkedid.isprintable():
        raise DirectoryError("not a call id")
    return linkedid.strip()


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _utc(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


# -- in the worker thread: one transaction each ---------------------------------------------
c, p, k, a, o = m.customers, m.phone_numbers, m.cases, m.activities, m.orders


def _search(conn: Connection, e164: str | None, account: str | None, folded: str | None,
            limit: int) -> list[CustomerHit]:
    hits: dict[int, CustomerHit] = {}
    columns = (c.c.id, c.c.name, c.c.account_number, c.c.tier, c.c.language, c.c.is_lead)

    def add(rows, how: str) -> None:
        for row in rows:
            if row.id not in hits and len(hits) < limit:
                hits[row.id] = CustomerHit(row.id, row.name, row.account_number, row.tier, row.language,
                                           bool(row.is_lead), matched_by=how)

    if account is not None:
        add(conn.execute(select(*columns).where(c.c.account_number == account)), "account_number")
    if e164 is not None:
        add(conn.execute(select(*columns).join(p, p.c.customer_id == c.c.id).where(p.c.e164 == e164)), "phone")
    if folded is not None and len(hits) < limit:
        # Every word typed must start a word of the name: "ozt" finds "Öztürk", "isik ay" finds "Ayşe Işık".
        padded = literal(" ") + c.c.name_folded
        words = [padded.like(f"% {_like_escape(word)}%", escape="\\") for word in folded.split()]
        exact_first = case((c.c.name_folded == folded, 0), else_=1)
        add(conn.execute(select(*columns).where(and_(*words)).order_by(exact_first, c.c.name_folded, c.c.id)
                         .limit(limit)), "name")
    if hits:
        for row in conn.execute(select(p.c.customer_id, p.c.e164).where(p.c.customer_id.in_(list(hits)))
                                .order_by(p.c.customer_id, p.c.is_primary.desc(), p.c.id)):
            hits[row.customer_id].phones.append(row.e164)
    return list(hits.values())


def _customer_view(conn: Connection, customer_id: int, activity_limit: int, order_limit: int) -> CustomerView:
    row = conn.execute(select(c).where(c.c.id == customer_id)).first()
    if row is None:
        raise CustomerNotFound(f"no customer {customer_id}")
    phones = [PhoneEntry(r.e164, r.label, bool(r.is_primary)) for r in conn.execute(
        select(p).where(p.c.customer_id == customer_id).order_by(p.c.is_primary.desc(), p.c.id))]
    still_open = case((k.c.closed_at.is_(None), 0), else_=1)
    cases = [_case(r) for r in conn.execute(select(k).where(k.c.customer_id == customer_id)
                                            .order_by(still_open, k.c.opened_at.desc(), k.c.id.desc()).limit(100))]
    orders = [OrderSummary(r.id, r.order_number, _utc(r.placed_at), r.status, money(r.total), r.currency,
                           r.description)
              for r in conn.execute(select(o).where(o.c.customer_id == customer_id)
                                    .order_by(o.c.placed_at.desc(), o.c.id.desc()).limit(order_limit))]
    return CustomerView(id=row.id, name=row.name, account_number=row.account_number, language=row.language,
                        tier=row.tier, segment=row.segment, lifetime_value=money(row.lifetime_value),
                        notes=row.notes, is_lead=bool(row.is_lead), phones=phones, cases=cases,
                        activities=_activity_page(conn, customer_id, None, activity_limit), orders=orders)


def _activity_page(conn: Connection, customer_id: int, before: int | None, limit: int) -> ActivityPage:
    query = select(a.c.id, a.c.kind, a.c.occurred_at, a.c.direction, a.c.channel, a.c.summary, a.c.agent_id,
                   a.c.outcome, a.c.disposition, a.c.case_id, a.c.notes).where(a.c.customer_id == customer_id)
    if before is not None:
        # Keyset paging on the (customer, occurred_at, id) index: stable while new calls arrive.
        mark = conn.execute(select(a.c.occurred_at, a.c.id)
                            .where(a.c.id == before, a.c.customer_id == customer_id)).first()
        if mark is None:
            return ActivityPage([], None)
        query = query.where(tuple_(a.c.occurred_at, a.c.id) < tuple_(literal(mark.occurred_at, a.c.occurred_at.type),
                                                                       literal(mark.id)))
    rows = conn.execute(query.order_by(a.c.occurred_at.desc(), a.c.id.desc()).limit(limit + 1)).all()
    items = [HistoryEntry(r.id, r.kind, _utc(r.occurred_at), r.direction, r.channel, r.summary, r.agent_id,
                          r.outcome, r.disposition, r.case_id, r.notes) for r in rows[:limit]]
    return ActivityPage(items, items[-1].id if len(rows) > limit else None)


def _link_number(conn: Connection, customer_id: int, e164: str, label: str | None, linkedid: str | None) -> str:
    if conn.execute(select(c.c.id).where(c.c.id == customer_id)).first() is None:
        raise CustomerNotFound(f"no customer {customer_id}")
    owner = conn.execute(select(p.c.customer_id, c.c.is_lead).join(c, c.c.id == p.c.customer_id)
                         .where(p.c.e164 == e164)).first()
    now = m.utcnow()
    if owner is None:
        has_primary = conn.execute(select(p.c.id).where(p.c.customer_id == customer_id, p.c.is_primary)).first()
        conn.execute(insert(p).values(customer_id=customer_id, e164=e164, label=label,
                                      is_primary=has_primary is None, created_at=now))
    elif owner.customer_id != customer_id:
        if not owner.is_lead:
            raise NumberTaken(e164, owner.customer_id)
        # The lead stood in for this caller: the number and its calls now belong to the customer.
        conn.execute(update(p).where(p.c.e164 == e164).values(customer_id=customer_id, label=label or "mobile"))
        conn.execute(update(a).where(a.c.customer_id == owner.customer_id).values(customer_id=customer_id))
        conn.execute(update(c).where(c.c.id == customer_id).values(updated_at=now))
    if linkedid is not None:
        _attach_call(conn, linkedid, customer_id)
    return e164


def _create_customer(conn: Connection, name: str, language: str | None, e164: str | None,
                     linkedid: str | None) -> int:
    now = m.utcnow()
    values = dict(name=name, name_folded=fold_name(name), language=language, updated_at=now)
    owner = None
    if e164 is not None:
        owner = conn.execute(select(p.c.customer_id, c.c.is_lead).join(c, c.c.id == p.c.customer_id)
                             .where(p.c.e164 == e164)).first()
    if owner is not None and not owner.is_lead:
        raise NumberTaken(e164, owner.customer_id)
    if owner is not None:  # the unknown caller's lead becomes the customer
        customer_id = owner.customer_id
        conn.execute(update(c).where(c.c.id == customer_id).values(is_lead=False, tier="standard", **values))
    else:
        customer_id = conn.execute(insert(c).values(tier="standard", lifetime_value=0, is_lead=False,
                                                    created_at=now, **values).returning(c.c.id)).scalar_one()
        if e164 is not None:
            conn.execute(insert(p).values(customer_id=customer_id, e164=e164, label="mobile", is_primary=True,
                                          created_at=now))
    if linkedid is not None:
        _attach_call(conn, linkedid, customer_id)
    return customer_id


def _attach_call(conn: Connection, linkedid: str, customer_id: int) -> None:
    # A live call's activity is written when the call ends, by whichever gateway holds it, with
    # the customer it looked up at the start (maybe a lead). So the link goes into the database
    # now: the call's row, made here if it is not there yet, names the customer, and the call's
    # write keeps a customer over a lead (queries.UPSERT_CALL_ACTIVITY).
    now = m.utcnow()
    dialect = pg_dialect if conn.dialect.name == "postgresql" else sqlite_dialect
    conn.execute(dialect.insert(a).values(linkedid=linkedid, kind="call", customer_id=customer_id, occurred_at=now,
                                          direction="inbound", channel="phone", created_at=now, updated_at=now)
                 .on_conflict_do_nothing(index_elements=[a.c.linkedid]))
    # Only a call nobody was named on (or a lead was) moves: a known customer's call stays theirs.
    lead_ids = select(c.c.id).where(c.c.is_lead)
    conn.execute(update(a).where(a.c.linkedid == linkedid,
                                 or_(a.c.customer_id.is_(None), a.c.customer_id.in_(lead_ids)))
                 .values(customer_id=customer_id))


def _open_case(conn: Connection, customer_id: int, subject: str, priority: str, owner: str | None) -> CaseSummary:
    if conn.execute(select(c.c.id).where(c.c.id == customer_id)).first() is None:
        raise CustomerNotFound(f"no customer {customer_id}")
    row = conn.execute(insert(k).values(customer_id=customer_id, subject=subject, status="open", priority=priority,
                                        owner=owner, opened_at=m.utcnow()).returning(*k.c)).first()
    return _case(row)


def _update_case(conn: Connection, customer_id: int, case_id: int, status: str | None, priority: str | None,
                 owner: str | None) -> CaseSummary:
    row = conn.execute(select(k).where(k.c.id == case_id, k.c.customer_id == customer_id,
                                       k.c.closed_at.is_(None))).first()
    if row is None:
        raise CaseNotFound(f"customer {customer_id} has no open case {case_id}")
    changes: dict = {}
    if status is not None:
        changes["status"] = status
        if status in _CLOSING_STATUSES:
            changes["closed_at"] = m.utcnow()
    if priority is not None:
        changes["priority"] = priority
    if owner is not None:
        changes["owner"] = owner
    if changes:
        row = conn.execute(update(k).where(k.c.id == case_id).values(**changes).returning(*k.c)).first()
    return _case(row)


def _open_cases(conn: Connection, customer_id: int) -> list[CaseSummary]:
    return [_case(r) for r in conn.execute(select(k).where(k.c.customer_id == customer_id, k.c.closed_at.is_(None))
                                           .order_by(k.c.opened_at.desc(), k.c.id.desc()))]


def _call_record(conn: Connection, linkedid: str) -> CallRecord | None:
    row = conn.execute(select(a.c.linkedid, a.c.customer_id, a.c.agent_id, a.c.queue, a.c.e164, a.c.disposition)
                       .where(a.c.linkedid == linkedid)).first()
    return CallRecord(*row) if row is not None else None


def _case(row) -> CaseSummary:
    return CaseSummary(row.id, row.subject, row.status, row.priority, _utc(row.opened_at), row.owner)
