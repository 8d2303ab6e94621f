"""What a FastAGI handler gets: the call's environment, its request, and AGI commands.

Every method sends one command and waits for its reply. A hang-up shows as `AgiHangup`
(from the inline HANGUP notice, a 511 reply, the socket closing, or a -1 result from the
commands that play or read digits); the handler may simply let it propagate.
"""
from __future__ import annotations

import asyncio
import math

from gateway.agi.access import Peer
from gateway.agi.environment import AgiEnvironment, AgiRequest
from gateway.agi.errors import AgiCommandError, AgiHangup, AgiPromptMissing
from gateway.agi.quoting import check_app_name, check_digits, check_line, command_line
from gateway.agi.replies import AgiReply

# DTMF results are ASCII codes: 0-9 * # A-D.
_MAX_DIGIT_CODE = 127
# GET DATA's timeout applies to each digit; budget for this many when max_digits is unset.
_GET_DATA_DIGIT_BUDGET = 10


class AgiSession:
    def __init__(self, protocol, env: AgiEnvironment, request: AgiRequest, peer: Peer):
        self._protocol = protocol
        self.env = env
        self.request = request
        self.peer = peer

    def __repr__(self) -> str:
        return f"<AgiSession {self.request.path!r} {self.env.channel or self.peer}>"

    @property
    def hung_up(self) -> bool:
        return self._protocol.hung_up

    def command(self, raw: str, *, timeout: float | None = None) -> asyncio.Future:
        """Send one raw command line (e.g. `'GET VARIABLE "X"'`); the Future resolves to
        the `AgiReply` of a 200, or fails with AgiHangup / AgiTimeout / AgiCommandError.
        Raises ValueError at once for CR, LF or NUL in `raw`. `timeout` (seconds) overrides
        the server's command timeout; `math.inf` waits without limit."""
        return self._protocol.send_command(check_line(raw), timeout)

    # -- call control ------------------------------------------------------------------

    async def answer(self) -> None:
        reply = await self.command("ANSWER")
        if _int_result(reply, "ANSWER") < 0:
            raise AgiHangup("ANSWER failed: the channel is gone")

    async def hangup(self) -> None:
        await self.command("HANGUP")

    async def exec_app(self, app: str, args: str = "", *, timeout: float | None = None) -> AgiReply:
        """Run a dialplan application (`EXEC`); the reply's result is the application's
        return value (-2: no such application). Long applications need a `timeout`."""
        words = [check_app_name(app)] + ([args] if args != "" else [])
        return await self.command(command_line("EXEC", *words), timeout=timeout)

    # -- prompts and digits --------------------------------------------------------------

    async def stream_file(self, name: str, escape_digits: str = "", *, timeout: float | None = None) -> str:
        """Play a prompt; returns the escape digit that interrupted it, or "".
        Prompts longer than the command timeout need a `timeout`."""
        reply = await self.command(command_line("STREAM FILE", name, check_digits(escape_digits)),
                                   timeout=timeout)
        if reply.result_int == -1:
            await self._raise_for_failed_playback(name, reply)
        return _digit_result(reply, "STREAM FILE")

    async def _raise_for_failed_playback(self, name: str, reply: AgiReply) -> None:
        """-1 is both "caller hung up" and "no such file". Asterisk refuses CHANNEL STATUS on
        a dead channel (511, or its HANGUP notice is already here): AgiHangup then."""
        await self.command("CHANNEL STATUS")
        raise AgiPromptMissing(f"STREAM FILE: prompt {name!r} could not be played (missing sound file?)", reply)

    async def wait_for_digit(self, timeout_ms: int) -> str:
        """One DTMF digit, or "" when `timeout_ms` passes (-1: wait without limit)."""
        timeout_ms = _int_arg(timeout_ms, "timeout_ms")
        reply = await self.command(command_line("WAIT FOR DIGIT", timeout_ms),
                                   timeout=self._budget(timeout_ms))
        return _digit_result(reply, "WAIT FOR DIGIT")

    async def get_data(self, prompt: str, timeout_ms: int | None = None,
                       max_digits: int | None = None, *, timeout: float | None = None) -> tuple[str, bool]:
        """Play `prompt` and collect digits: returns (digits, timed_out)."""
        args = [prompt]
        if timeout_ms is not None or max_digits is not None:
            args.append(_int_arg(timeout_ms or 0, "timeout_ms"))  # 0: Asterisk's default
        if max_digits is not None:
            args.append(_int_arg(max_digits, "max_digits"))
        if timeout is None and timeout_ms:
            digits = max_digits or _GET_DATA_DIGIT_BUDGET
            timeout = self._budget(timeout_ms * digits)
        reply = await self.command(command_line("GET DATA", *args), timeout=timeout)
        if reply.result.startswith("-"):
            raise AgiHangup(f"GET DATA returned {reply.result}")
        return reply.result, reply.data == "timeout"

    async def say_digits(self, digits: str, escape: str = "") -> str:
        reply = await self.command(command_line("SAY DIGITS", check_digits(digits, "digits"),
                                                check_digits(escape)))
        return _digit_result(reply, "SAY DIGITS")

    async def say_number(self, n: int, escape: str = "") -> str:
        reply = await self.command(command_line("SAY NUMBER", _int_arg(n, "n"), check_digits(escape)))
        return _digit_result(reply, "SAY NUMBER")

    # -- variables and logging -----------------------------------------------------------

    async def set_variable(self, name: str, value) -> None:
        await self.command(command_line("SET VARIABLE", name, str(value)))

    async def get_variable(self, name: str) -> str | None:
        """The channel variable's value, or None if it is not set."""
        return _variable_result(await self.command(command_line("GET VARIABLE", name)))

    async def get_full_variable(self, expression: str) -> str | None:
        """An expression evaluated on the channel, e.g. "${CHANNEL(linkedid)}"."""
        return _variable_result(await self.command(command_line("GET FULL VARIABLE", expression)))

    async def verbose(self, message: str, level: int = 1) -> None:
        if _int_arg(level, "level") not in (1, 2, 3, 4):
            raise ValueError("verbose level is 1 to 4")
        await self.command(command_line("VERBOSE", message, level))

    def _budget(self, wait_ms: int) -> float:
        """A command that waits `wait_ms` on purpose gets that on top of the usual timeout."""
        if wait_ms < 0:
            return math.inf
        return self._protocol.command_timeout + wait_ms / 1000


def _int_arg(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    return value


def _int_result(reply: AgiReply, what: str) -> int:
    value = reply.result_int
    if value is None:
        raise AgiCommandError(f"{what}: result is not a number: {reply.raw[:200]!r}", reply)
    return value


def _digit_result(reply: AgiReply, what: str) -> str:
    """Result 0: no digit; N > 0: the digit with ASCII code N; -1: hang-up."""
    value = _int_result(reply, what)
    if value < 0:
        raise AgiHangup(f"{what} returned {value}")
    if value > _MAX_DIGIT_CODE:
        raise AgiCommandError(f"{what}: result is not a DTMF digit: {reply.raw[:200]!r}", reply)
    return chr(value) if value else ""


def _variable_result(reply: AgiReply) -> str | None:
    """`200 result=1 (value)` -> "value"; `200 result=0` -> None."""
    if reply.result_int == 1:
        return reply.data if reply.data is not None else ""
    return None
