"""An in-memory channel that plays a caller from a script, for tests, benchmarks and
dry runs of a flow (like Twisted's StringTransport: the real logic, no sockets).

Script tokens, consumed in order by the engine's channel calls:
    "5"         a key pressed after the prompt (answers WAIT FOR DIGIT)
    "^5"        a key pressed during the prompt: interrupts the next interruptible prompt
    "12345678"  digits typed for GET DATA (ended by # or by reaching max digits)
    ""          silence: the wait or GET DATA times out
    "!"         the caller hangs up: the next call that waits on them (a key, digits, an
                interruptible prompt, a recording) raises CallerHungUp
A script that runs out behaves like a caller hanging up when the flow next waits for a key.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gateway.ivr.channel import CallerHungUp


@dataclass
class ScriptedCase:
    """An open case as the engine reads it from the CRM's caller view."""
    id: int
    subject: str
    status: str


@dataclass
class ScriptedCaller:
    """The caller facts the engine reads (the CRM's CallerView has these and more)."""
    known: bool = False
    customer_id: int | None = None
    name: str | None = None
    language: str | None = None
    tier: str | None = None
    open_cases: list = field(default_factory=list)
    repeat_caller: bool = False
    account_number: str | None = None


class ScriptedChannel:
    def __init__(self, script=(), variables: dict[str, str] | None = None):
        self.script = deque(script)
        self.variables = {"CALLERID(num)": "905321234567", "UNIQUEID": "1700000000.1", **(variables or {})}
        self.log: list[tuple[str, str]] = []  # (operation, argument), for assertions

    # --- what tests look at --------------------------------------------------------------------

    @property
    def played(self) -> list[str]:
        return [arg for op, arg in self.log if op == "stream_file"]

    def ops(self, name: str) -> list[str]:
        return [arg for op, arg in self.log if op == name]

    # --- the Channel protocol --------------------------------------------------------------------

    def _peek(self, waits_for_caller: bool) -> str:
        """The next token, not consumed. Calls that wait on the caller (keys, digits, an
        interruptible prompt, a recording) raise CallerHungUp at "!" or past the end of the
        script; other calls go through (a caller cannot hang up between two commands that
        take no time)."""
        if not waits_for_caller:
            return ""
        if not self.script or self.script[0] == "!":
            raise CallerHungUp("caller hung up" if self.script else "script ended")
        return self.script[0]

    async def stream_file(self, name: str, escape_digits: str = "") -> str:
        self.log.append(("stream_file", name))
        if not escape_digits:
            return ""
        token = self.script[0] if self.script else ""
        if token == "!":
            self._peek(True)
        if token.startswith("^") and token[1:2] in escape_digits:
            self.script.popleft()
            return token[1]
        return ""

    async def wait_for_digit(self, timeout_ms: int) -> str:
        token = self._peek(True).lstrip("^")
        self.log.append(("wait_for_digit", str(timeout_ms)))
        self.script.popleft()
        if len(token) > 1:  # typed ahead: the first key now, the rest wait for the next question
            self.script.appendleft(token[1:])
        return token[:1]

    async def get_data(self, prompt: str, timeout_ms: int | None = None, max_digits: int | None = None):
        token = self._peek(True).lstrip("^")
        self.log.append(("get_data", prompt))
        self.script.popleft()
        if token == "":
            return "", True
        return (token[:max_digits] if max_digits else token), False

    async def say_digits(self, digits: str, escape: str = "") -> str:
        self.log.append(("say_digits", str(digits)))
        return ""

    async def say_number(self, n: int, escape: str = "") -> str:
        self.log.append(("say_number", str(n)))
        return ""

    async def get_variable(self, name: str) -> str | None:
        self.log.append(("get_variable", name))
        return self.variables.get(name)

    # What Asterisk's recording applications leave in their status variable when they work.
    APP_STATUS = {"Record": ("RECORD_STATUS", "SILENCE"), "VoiceMail": ("VMSTATUS", "SUCCESS")}

    async def exec_app(self, app: str, args: str = "", *, timeout: float | None = None) -> int:
        self.log.append(("exec_app", f"{app}({args})"))
        if app in self.APP_STATUS:
            name, value = self.APP_STATUS[app]
            self.variables.setdefault(name, value)  # a test may preset a failure (e.g. ERROR)
        if timeout is not None and self.script and self.script[0] == "!":
            self._peek(True)  # a long-running application (Record) is the caller's time: they may hang up
        return 0
