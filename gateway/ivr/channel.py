"""What the engine needs from the outside world, as Protocols: the call's channel, the
caller's CRM facts, and the self-service calls, with the channel's own exceptions.

The engine knows nothing of sockets nor of FastAGI: gateway.calls.agi_channel adapts a
FastAGI session to `Channel` (translating its errors into the ones below), the CRM's
CallerView fits `CallerFacts`, and gateway.calls.services fits `SelfServices`.
"""
from __future__ import annotations

from typing import Protocol, Sequence

__all__ = ["CallerFacts", "CaseSummary", "Channel", "ChannelError", "ChannelTimeout", "CallerHungUp",
           "NO_SUCH_APPLICATION", "PromptMissing", "SelfServices", "UnknownCaller"]

NO_SUCH_APPLICATION = -2  # what `exec_app` returns when the telephony side has no such application


class ChannelError(Exception):
    """Base class of what a channel raises for its own reasons."""


class CallerHungUp(ChannelError):
    """The caller is gone: every later channel call raises this too."""


class ChannelTimeout(ChannelError):
    """The telephony side stopped answering; the channel is closed."""


class PromptMissing(ChannelError):
    """A prompt could not be played (no such sound), the caller still there."""


class Channel(Protocol):
    async def stream_file(self, name: str, escape_digits: str = "") -> str:
        """Play a sound; the key in `escape_digits` that interrupted it, or ""."""

    async def wait_for_digit(self, timeout_ms: int) -> str:
        """One key pressed within `timeout_ms`, or ""."""

    async def get_data(self, prompt: str, timeout_ms: int | None = None,
                       max_digits: int | None = None) -> tuple[str, bool]:
        """Play `prompt` and collect keys: (digits, timed out)."""

    async def say_digits(self, digits: str, escape: str = "") -> str:
        """Say digits one by one; the escape key pressed, or ""."""

    async def say_number(self, n: int, escape: str = "") -> str:
        """Say a number; the escape key pressed, or ""."""

    async def get_variable(self, name: str) -> str | None:
        """A channel variable, None if unset."""

    async def exec_app(self, app: str, args: str = "", *, timeout: float | None = None) -> int:
        """Run a dialplan application; its return value (NO_SUCH_APPLICATION when there is none).
        `timeout` (seconds): for applications that run long on purpose (Record, VoiceMail)."""


class CaseSummary(Protocol):
    id: object
    subject: str
    status: str


class CallerFacts(Protocol):
    known: bool
    customer_id: object
    name: str | None
    language: str | None
    tier: str | None  # one of gateway.tiers.TIERS, None when unknown
    open_cases: Sequence[CaseSummary]
    repeat_caller: bool
    account_number: str | None


class SelfServices(Protocol):
    async def verify_account(self, customer_id, account_number: str) -> bool:
        """Whether the account number keyed in is this customer's."""

    async def case_status(self, customer_id) -> CaseSummary | None:
        """The customer's latest open case."""

    async def estimated_wait(self, queue: str) -> float | None:
        """Roughly how long a call joining `queue` now would wait (for `queue_wait_over`)."""


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
