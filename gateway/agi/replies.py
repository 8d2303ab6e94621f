"""Asterisk's replies to AGI commands, parsed from text lines (pure: no I/O).

Shapes sent by res_agi (Asterisk 22), one per command:

    200 result=N [(data)] [endpos=N]      data may hold spaces and parentheses
    100 result=0 Trying...                provisional; the real reply follows
    510 Invalid or unknown command
    511 Command Not Permitted on a dead channel or intercept routine
    520-Invalid command syntax.  Proper usage follows:
    <usage text, one or more lines>
    520 End of proper usage.

and, outside the reply order, `HANGUP` when the channel hangs up (unless AGISIGHUP=no),
possibly right before the reply to the command in flight.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.agi.errors import MalformedReply

# A usage text is a few dozen lines; the cap keeps a broken peer from growing a buffer.
MAX_USAGE_LINES = 200

_CODE_LINE = re.compile(r"([0-9]{3})(?:[ -](.*))?\Z", re.DOTALL)
# Bounded digit count: int() of a 5,000-digit string raises ValueError in Python 3.11+.
_ENDPOS = re.compile(r"(?:^|\s)endpos=(-?[0-9]{1,18})(?:\s|$)")


@dataclass(frozen=True, slots=True)
class AgiReply:
    """One complete reply. `result` is the text after `result=` ("" when absent);
    `data` the text in parentheses, or the message of an error code (510, 511, 520 usage)."""

    code: int
    result: str
    data: str | None
    endpos: int | None
    raw: str

    @property
    def result_int(self) -> int | None:
        """`result` as an int, or None if it is not a number."""
        text = self.result
        digits = text[1:] if text.startswith("-") else text
        if digits.isascii() and digits.isdigit() and len(digits) <= 18:
            return int(text)
        return None


class _Hangup:
    """The inline `HANGUP` notice (a singleton: compare with `is HANGUP`)."""

    def __repr__(self) -> str:
        return "HANGUP"


HANGUP = _Hangup()


def parse_reply_line(line: str) -> AgiReply:
    """Parse one single-line reply (`NNN ...`). Raises MalformedReply otherwise."""
    match = _CODE_LINE.match(line)
    if match is None:
        raise MalformedReply(f"not an AGI reply: {line[:80]!r}")
    code = int(match.group(1))
    rest = match.group(2) or ""
    if not rest.startswith("result="):
        return AgiReply(code, "", rest or None, None, line)
    result, _, tail = rest[len("result="):].partition(" ")
    data, after = _split_data(tail)
    endpos = _ENDPOS.search(after)
    return AgiReply(code, result, data, int(endpos.group(1)) if endpos else None, line)


def _split_data(tail: str) -> tuple[str | None, str]:
    """`(data) endpos=N` -> ("data", " endpos=N"). The data ends at the *last* `)`, so a
    variable's value may itself contain parentheses or the text "endpos=".
    """
    stripped = tail.lstrip(" ")
    if not stripped.startswith("("):
        return None, tail
    close = stripped.rfind(")")
    if close == -1:
        return stripped[1:], ""
    return stripped[1:close], stripped[close + 1:]


class ReplyAssembler:
    """Turns reply lines into replies: skips `100` provisional lines, joins a `520-` usage
    block, and reports the inline `HANGUP` notice.

    `feed(line)` returns an `AgiReply`, `HANGUP`, or None while a reply is incomplete.
    """

    def __init__(self, max_usage_lines: int = MAX_USAGE_LINES):
        self._max_usage_lines = max_usage_lines
        self._usage: list[str] | None = None

    @property
    def in_progress(self) -> bool:
        return self._usage is not None

    def feed(self, line: str):
        if self._usage is not None:
            return self._feed_usage(line)
        if line == "HANGUP":
            return HANGUP
        if line.startswith("520-"):
            self._usage = [line]
            return None
        reply = parse_reply_line(line)
        if reply.code == 100:
            return None
        return reply

    def _feed_usage(self, line: str):
        lines = self._usage
        lines.append(line)
        if line.startswith("520 ") or line == "520":
            self._usage = None
            return AgiReply(520, "", "\n".join(lines[1:-1]), None, "\n".join(lines))
        if len(lines) > self._max_usage_lines:
            self._usage = None
            raise MalformedReply(f"520 usage text longer than {self._max_usage_lines} lines")
        return None


def parse_replies(text: str) -> list:
    """Every reply and HANGUP notice in a block of reply text (for tests and tools)."""
    assembler = ReplyAssembler()
    events = []
    for line in text.split("\n"):
        line = line.rstrip("\r")
        if line == "" and not assembler.in_progress:
            continue
        event = assembler.feed(line)
        if event is not None:
            events.append(event)
    if assembler.in_progress:
        raise MalformedReply("text ends inside a 520 usage block")
    return events
