"""The gateway's side of the hold rule: no caller waits on the gateway's word alone.

While a caller waits in `[ctigw-hold]`, only this gateway can move them on, so the dialplan
checks, between bounded slices of music, that the call's owner is alive: the global
`CTIGW_LIVE_<owner>` must hold an Asterisk EPOCH no older than `CTIGW_HOLD_GRACE`. This
module keeps that mark fresh over AMI. It stamps Asterisk's own clock (a Getvar of EPOCH),
never ours, so clock skew between the hosts cannot expire or prolong the grace.

If the process dies, hangs, or loses AMI for longer than the grace, the marks stop and every
caller it owns leaves for `[ctigw-fallback]` at the end of their current slice.
"""
from __future__ import annotations

import asyncio
import logging
import re

from gateway.acd.background import BackgroundLoop
from gateway.ami.errors import AmiError

log = logging.getLogger(__name__)

OWNER_VARIABLE = "CTIGW_OWNER"


def owner_token(instance: str) -> str:
    """The instance name as the dialplan sees it: a valid variable-name suffix."""
    return re.sub(r"[^A-Za-z0-9_]", "_", instance) or "_"


def liveness_variable(instance: str) -> str:
    return f"CTIGW_LIVE_{owner_token(instance)}"


class HoldLiveness(BackgroundLoop):
    """Refreshes this instance's liveness mark every `interval` seconds (a third of the
    grace by default, so two lost refreshes in a row are survived)."""

    task_name = "hold-liveness"

    def __init__(self, client, instance: str, *, grace: float, slice_seconds: int, interval: float | None = None):
        if grace < 2 * slice_seconds:
            raise ValueError(f"hold grace {grace}s must be at least twice the music slice ({slice_seconds}s)")
        self.client = client
        self.variable = liveness_variable(instance)
        self.grace = grace
        self.slice_seconds = slice_seconds
        self.interval = interval if interval is not None else grace / 3
        self.marks = 0  # refreshes that reached Asterisk, for tests and metrics
        # At once on every (re)connect: a caller put on hold right after a start must not
        # find a stale mark (or none) and leave for the fallback queue.
        client.on_connected(self._mark_if_connected)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self._mark_if_connected()

    async def _mark_if_connected(self) -> None:
        if not self.client.connected:
            return
        try:
            await self.mark()
        except AmiError as exc:
            log.warning("hold liveness mark not refreshed: %s", exc)

    async def mark(self) -> None:
        reply = await self.client.action("Getvar", Variable="EPOCH")
        epoch = reply.get("Value") or ""
        if not epoch.isdigit():
            raise AmiError(f"Asterisk answered EPOCH with {epoch[:20]!r}")
        # The dialplan reads the settings from globals, so every gateway of a centre must
        # share them (the last one set wins).
        await self.client.action("Setvar", Variable="CTIGW_HOLD_GRACE", Value=str(int(self.grace)))
        await self.client.action("Setvar", Variable="CTIGW_HOLD_SLICE", Value=str(int(self.slice_seconds)))
        await self.client.action("Setvar", Variable=self.variable, Value=epoch)
        self.marks += 1
