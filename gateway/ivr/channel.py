"""What the engine needs from the outside world, as Protocols: the call's channel, the
caller's CRM facts, and the self-service calls. The engine knows nothing of sockets: the
FastAGI session (gateway.agi) fits `Channel`, the CRM's CallerView fits `CallerFacts`.
"""
from __future__ import annotations

from typing import Protocol, Sequence

from gateway.agi.errors import AgiHangup, AgiPromptMissing, AgiTimeout  # all the IVR takes from gateway.agi

__all__ = ["AgiHangup", "AgiPromptMissing", "AgiTimeout", "Channel", "CallerFacts", "CaseSummary", "SelfServices", "UnknownCaller"]


class Channel(Protocol):
    async def stream_file(self, name: str, escape_digits: str = "") -> str: ...
    async def wait_for_digit(self, timeout_ms: int) -> str: ...
    async def get_data(self, prompt: str, timeout_ms: int | None = None,
                       max_digits: int | None = None) -> tuple[str, bool]: ...
    async def say_digits(self, digits: str, escape: str = "") -> object: ...
    async def say_number(self, n: int, escape: str = "") -> object: ...
    async def set_variable(self, name: str, value: str) -> object: ...
    async def get_variable(self, name: str) -> str | None: ...
    # `timeout` (seconds): for applications that run long on purpose (Record, VoiceMail).
    async def exec_app(self, app: str, args: str = "", *, timeout: float | None = None) -> object: ...
    async def hangup(self) -> object: ...
    async def verbose(self, msg: str) -> object: ...


class CaseSummary(Protocol):
    id: object
    subject: str
    status: str


class CallerFacts(Protocol):
    known: bool
    customer_id: object
    name: str | None
    language: str | None
    tier: str | None  # platinum / gold / silver / bronze / None
    open_cases: Sequence[CaseSummary]
    repeat_caller: bool
    account_number: str | None


class SelfServices(Protocol):
    async def verify_account(self, customer_id, account_number: str) -> bool: ...
    async def case_status(self, customer_id) -> CaseSummary | None: ...
    # Optional: `async def estimated_wait(queue) -> float | None` for `queue_wait_over`.


class UnknownCaller:
    """Facts for a caller the CRM does not know (or when no CRM answer is available)."""

    known = False
    customer_id = None
    name = None
    language = None
    tier = None
    open_cases: Sequence = ()
    repeat_caller = False
    account_number = None
