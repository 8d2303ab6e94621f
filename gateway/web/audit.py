"""The audit log: who did what, to what, when, from which address, and how it ended.

Every state-changing route calls `record` (sign-in, sign-out, agent controls by session or
by API token). Rows are only ever appended; a failed write is logged loudly and never hides
the action's own result.
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from gateway.crm.models import utcnow
from gateway.web.models import AuditEntry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditRecord:
    at: datetime
    actor: str
    role: str | None
    action: str
    target: str | None
    address: str | None
    outcome: str


class AuditLog:
    def __init__(self, engine: Engine):
        self.engine = engine

    def _write(self, row: dict) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(AuditEntry), row)

    async def record(self, *, actor: str, role: str | None, action: str, target: str | None,
                     address: str | None, outcome: str) -> None:
        row = {"at": utcnow(), "actor": actor[:128], "role": role, "action": action[:64],
               "target": target[:200] if target else target, "address": address, "outcome": outcome[:200]}
        try:
            await asyncio.to_thread(self._write, row)
        except Exception:
            log.exception("audit log: could not record %s by %s", action, actor)

    def recent(self, limit: int = 100) -> list[AuditRecord]:
        """The newest entries first."""
        t = AuditEntry.__table__
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.c.at, t.c.actor, t.c.role, t.c.action, t.c.target, t.c.address,
                                       t.c.outcome).order_by(t.c.id.desc()).limit(limit))
            return [AuditRecord(*r) for r in rows]
