"""A FastAGI session as the IVR's Channel: the same commands, with FastAGI's errors turned
into the channel's own, so the IVR never sees gateway.agi."""
from __future__ import annotations

from contextlib import contextmanager

from gateway.agi.errors import AgiHangup, AgiPromptMissing, AgiTimeout
from gateway.agi.session import AgiSession
from gateway.ivr.channel import CallerHungUp, ChannelTimeout, PromptMissing


@contextmanager
def _as_channel_errors():
    try:
        yield
    except AgiHangup as exc:
        raise CallerHungUp(str(exc)) from exc
    except AgiTimeout as exc:
        raise ChannelTimeout(str(exc)) from exc
    except AgiPromptMissing as exc:
        raise PromptMissing(str(exc)) from exc


class AgiChannel:
    """Implements gateway.ivr.channel.Channel over one AgiSession."""

    def __init__(self, session: AgiSession):
        self._session = session

    async def stream_file(self, name: str, escape_digits: str = "") -> str:
        with _as_channel_errors():
            return await self._session.stream_file(name, escape_digits)

    async def wait_for_digit(self, timeout_ms: int) -> str:
        with _as_channel_errors():
            return await self._session.wait_for_digit(timeout_ms)

    async def get_data(self, prompt: str, timeout_ms: int | None = None,
                       max_digits: int | None = None) -> tuple[str, bool]:
        with _as_channel_errors():
            return await self._session.get_data(prompt, timeout_ms, max_digits)

    async def say_digits(self, digits: str, escape: str = "") -> str:
        with _as_channel_errors():
            return await self._session.say_digits(digits, escape)

    async def say_number(self, n: int, escape: str = "") -> str:
        with _as_channel_errors():
            return await self._session.say_number(n, escape)

    async def get_variable(self, name: str) -> str | None:
        with _as_channel_errors():
            return await self._session.get_variable(name)

    async def exec_app(self, app: str, args: str = "", *, timeout: float | None = None) -> int:
        with _as_channel_errors():
            reply = await self._session.exec_app(app, args, timeout=timeout)
        # EXEC's result is the application's return value (-2: no such application, which is
        # NO_SUCH_APPLICATION); a result that is no number tells nothing, like 0.
        result = reply.result_int
        return 0 if result is None else result
