"""The web side's tables in the CRM database: sign-in accounts and the audit log.

They hang on the CRM's declarative Base (gateway.crm.models imports this module at its end),
so Base.metadata describes the whole database and migration 0002 creates exactly this.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, String, text
from sqlalchemy.orm import Mapped, mapped_column

from gateway.crm.models import Base, Id, Utc, utcnow


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # agent, supervisor or admin
    agent_id: Mapped[str | None] = mapped_column(String(64))  # agents: their roster id
    teams: Mapped[list] = mapped_column(JSON, default=list)  # supervisors: the teams they lead
    locale: Mapped[str] = mapped_column(String(8), server_default="tr")
    password_hash: Mapped[str] = mapped_column(String(256))
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(Utc, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(Utc, default=utcnow, onupdate=utcnow)


class AuditEntry(Base):
    """Append-only: one row per state-changing action, whoever made it."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(Utc, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128))  # username, or agent:1001 (token id) for a token
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(200))

