"""Whether the gateway can take calls now: named checks, each bounded by a timeout, run side
by side, so a dependency that hangs makes the answer "not ready" instead of no answer.

    readiness = Readiness(gateway_checks(redis=..., ami=..., agi=..., crm=..., activities=...))
    report = await readiness.run()        # report.ready, report.checks (name -> CheckResult)

A check is an `async def check() -> str | None` that raises when its dependency is not fit
(the returned text, if any, is the detail shown for a passing check). The failure's detail
names the kind of failure only; the full error goes to the log (the answer is unauthenticated).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Awaitable, Callable, Mapping

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[str | None]]
DEFAULT_TIMEOUT = 1.0


class NotReady(Exception):
    """A check's own verdict (its message is shown as is)."""


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str

    def to_dict(self) -> dict:
        return {"ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class ReadinessReport:
    checks: dict[str, CheckResult]

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks.values())

    @property
    def failed(self) -> list[str]:
        return [name for name, c in self.checks.items() if not c.ok]

    def to_dict(self) -> dict:
        return {"ready": self.ready, "failed": self.failed,
                "checks": {name: c.to_dict() for name, c in self.checks.items()}}


class Readiness:
    def __init__(self, checks: Mapping[str, Check], *, timeout: float = DEFAULT_TIMEOUT):
        if timeout <= 0:
            raise ValueError("a readiness timeout is a positive number of seconds")
        self.checks = dict(checks)
        self.timeout = timeout

    async def run(self) -> ReadinessReport:
        names = list(self.checks)
        results = await asyncio.gather(*(self._one(name, self.checks[name]) for name in names))
        return ReadinessReport(dict(zip(names, results)))

    async def _one(self, name: str, check: Check) -> CheckResult:
        try:
            async with asyncio.timeout(self.timeout):
                detail = await check()
        except NotReady as exc:
            return CheckResult(False, str(exc))
        except TimeoutError:
            log.warning("readiness: %s did not answer within %g s", name, self.timeout)
            return CheckResult(False, f"no answer within {self.timeout:g} s")
        except Exception as exc:
            log.warning("readiness: %s failed: %s", name, exc)
            return CheckResult(False, f"failed ({type(exc).__name__})")
        return CheckResult(True, detail or "ok")


def gateway_checks(*, redis, ami, agi, crm, activities, crm_timeout: float = DEFAULT_TIMEOUT / 2
                   ) -> dict[str, Check]:
    """The gateway's checks: AMI logged in, Redis answering PING, the CRM database answering (or,
    while it is down, the activity spool taking writes: calls still go on, callers shown as
    unknown), FastAGI listening. `crm_timeout` leaves the spool check time within the whole."""

    async def ami_check() -> str:
        if not ami.connected:
            raise NotReady("not logged in to AMI")
        return "logged in"

    async def redis_check() -> str:
        await redis.ping()
        return "PING answered"

    async def crm_check() -> str:
        try:
            await asyncio.wait_for(crm.ping(), crm_timeout)
            return "database answered"
        except Exception as exc:
            log.warning("readiness: the CRM database did not answer (%s); checking the spool", exc)
        try:
            await activities.check_spool()
        except Exception as exc:
            raise NotReady(f"database and activity spool unavailable ({type(exc).__name__})") from exc
        return "database unreachable; activities are spooled"

    async def agi_check() -> str:
        if agi.port is None:
            raise NotReady("not listening")
        return f"listening on port {agi.port}"

    return {"ami": ami_check, "redis": redis_check, "crm": crm_check, "fastagi": agi_check}
