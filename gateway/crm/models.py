"""The CRM schema as SQLAlchemy 2 models: customers, their numbers, activities, cases, orders.

These classes are the one description of the schema: Alembic's migrations in
`gateway/crm/migrations` create exactly this (a test compares them), the importer and the
demo-data loader write through these tables. The hot paths (lookup, activity upsert) run
hand-written SQL over the raw drivers instead, see queries.py for why.

Timestamps are UTC. On PostgreSQL they are `timestamptz`; on SQLite SQLAlchemy stores them as
`YYYY-MM-DD HH:MM:SS.ffffff` text, which `sqlite_timestamp()` reproduces for raw SQL so the
two always compare correctly as strings.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from gateway.tiers import DEFAULT_TIER

# Constraint names fixed by convention, so migrations and models agree on both engines.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT keys on PostgreSQL; plain INTEGER on SQLite, where only "INTEGER PRIMARY KEY" is the rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")
Utc = DateTime(timezone=True)

# What an agent may set on a case (gateway/crm/directory.py checks them).
CASE_STATUSES = ("open", "pending", "resolved", "closed")
CASE_PRIORITIES = ("low", "normal", "high", "urgent")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def sqlite_timestamp(moment: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite dialect stores it (UTC wall time, microseconds)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def parse_sqlite_timestamp(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # Nullable: a lead created from an unknown caller has no account yet. Unique when set.
    account_number: Mapped[str | None] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # fold_name(name) (gateway/crm/folding.py): what a search by name compares against.
    name_folded: Mapped[str] = mapped_column(String(200), default="", server_default="", index=True)
    language: Mapped[str | None] = mapped_column(String(8))  # ISO 639-1: tr, en, ...
    segment: Mapped[str | None] = mapped_column(String(32))  # consumer, business, ...
    tier: Mapped[str] = mapped_column(String(16), default=DEFAULT_TIER, server_default=DEFAULT_TIER)
    lifetime_value: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0, server_default="0")
    notes: Mapped[str | None] = mapped_column(Text)
    is_lead: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(Utc, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Utc, default=utcnow)

    phones: Mapped[list[PhoneNumber]] = relationship(back_populates="customer")


class PhoneNumber(Base):
    __tablename__ = "phone_numbers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    # E.164, as gateway.crm.numbers produces it; one number belongs to one customer.
    e164: Mapped[str] = mapped_column(String(16), unique=True)
    label: Mapped[str | None] = mapped_column(String(16))  # mobile, home, work
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(Utc, default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="phones")


class Case(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="open", server_default="open")
    priority: Mapped[str] = mapped_column(String(16), default="normal", server_default="normal")
    owner: Mapped[str | None] = mapped_column(String(64))  # agent id
    opened_at: Mapped[datetime] = mapped_column(Utc, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(Utc)  # NULL while the case is open

    __table_args__ = (
        Index("ix_cases_customer_id", "customer_id"),
        # The lookup's "open cases" read only these rows.
        Index(
            "ix_cases_open_by_customer",
            "customer_id",
            "opened_at",
            postgresql_where=text("closed_at IS NULL"),
            sqlite_where=text("closed_at IS NULL"),
        ),
    )


class Activity(Base):
    """One contact with a customer: a call, a note, an email, a case update.

    Calls carry the call fields and a unique `linkedid` (Asterisk's id for the whole call),
    which makes writing a call's activity idempotent.
    """

    __tablename__ = "activities"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    # NULL for calls from numbers the CRM does not know (and no lead was created).
    customer_id: Mapped[int | None] = mapped_column(Id, ForeignKey("customers.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(Utc)
    direction: Mapped[str | None] = mapped_column(String(8))  # inbound, outbound
    channel: Mapped[str | None] = mapped_column(String(16))  # phone, email, web, ...
    summary: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(32))
    case_id: Mapped[int | None] = mapped_column(Id, ForeignKey("cases.id", ondelete="SET NULL"))
    # -- call fields --
    linkedid: Mapped[str | None] = mapped_column(String(64), unique=True)
    raw_ani: Mapped[str | None] = mapped_column(String(64))  # display-safe, capped
    e164: Mapped[str | None] = mapped_column(String(16))
    dnis: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column(Utc)
    answered_at: Mapped[datetime | None] = mapped_column(Utc)
    ended_at: Mapped[datetime | None] = mapped_column(Utc)
    queue: Mapped[str | None] = mapped_column(String(64))
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    hold_seconds: Mapped[float | None] = mapped_column(Float)
    ivr_path: Mapped[list | None] = mapped_column(Json)
    ivr_inputs: Mapped[dict | None] = mapped_column(Json)
    route: Mapped[dict | None] = mapped_column(Json)
    # blind transfers in order: [{from_agent, to_queue, to_agent, note, at}]; agent_id is the last agent
    transfers: Mapped[list | None] = mapped_column(Json)
    # -- the agent's wrap-up --
    disposition: Mapped[str | None] = mapped_column(String(64))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(Utc, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Utc, default=utcnow)

    __table_args__ = (
        # Newest-first history of one customer: the lookup's main read.
        # id breaks ties between activities at the same instant, so the order is stable.
        Index("ix_activities_customer_recent", "customer_id", "occurred_at", "id"),
    )


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customers.id", ondelete="CASCADE"))
    order_number: Mapped[str] = mapped_column(String(32), unique=True)
    placed_at: Mapped[datetime] = mapped_column(Utc)
    status: Mapped[str] = mapped_column(String(16))  # placed, shipped, delivered, returned, cancelled
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="TRY", server_default="TRY")
    description: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_orders_customer_recent", "customer_id", "placed_at"),)


class AgentStatePeriod(Base):
    """One period an agent spent in one state: written from the ACD's agent-state stream
    (gateway/acd/state_log.py) by gateway/crm/state_history.py, so the board and the reports
    read the same facts. The period is open (ended_at NULL) until the agent's next change."""

    __tablename__ = "agent_state_periods"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    agent_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # gateway.acd.states.AgentState values
    reason: Mapped[str | None] = mapped_column(String(64))  # not_ready reason code
    queue: Mapped[str | None] = mapped_column(String(64))
    call_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(Utc, index=True)
    ended_at: Mapped[datetime | None] = mapped_column(Utc, index=True)  # NULL: the agent's current state
    # The stream entry's id, zero-padded so text order is the order Redis applied the changes
    # in; unique, so an entry delivered twice is written once.
    source_id: Mapped[str] = mapped_column(String(32), unique=True)
    instance: Mapped[str | None] = mapped_column(String(64))  # the gateway (or tool) that made the change

    __table_args__ = (
        # An agent's periods in order: the neighbours a new period closes and is closed by.
        Index("ix_agent_state_periods_agent_order", "agent_id", "source_id"),
    )


customers = Customer.__table__
phone_numbers = PhoneNumber.__table__
cases = Case.__table__
activities = Activity.__table__
orders = Order.__table__
agent_state_periods = AgentStatePeriod.__table__

# The same database holds the web side's accounts and audit log; importing them here makes
# Base.metadata the whole schema (what the migrations are compared with).
from gateway.web import models as _web_models  # noqa: E402,F401
