"""Building AGI command lines that Asterisk reads back as exactly the arguments given.

Asterisk splits a command line on spaces and tabs, groups text in double quotes, and takes
the character after a backslash literally (res_agi `parse_args`). So every argument is sent
as `"..."` with `\\` and `"` escaped. A CR or LF would end the line and start a second
command, so they are refused outright, as is NUL (Asterisk's C strings stop at it).
"""
from __future__ import annotations

import re

# res_agi reads a command into a 2048-byte buffer; a longer line is cut there and its
# remainder runs as a separate command, so over-long lines are refused too.
MAX_COMMAND_BYTES = 2046

_FORBIDDEN = re.compile(r"[\r\n\x00]")
_DIGITS = re.compile(r"[0-9*#A-D]*\Z")
_APP_NAME = re.compile(r"[A-Za-z0-9_]+\Z")


def check_line(line: str) -> str:
    """A raw command line as given to `session.command`: one line, within Asterisk's buffer."""
    if not isinstance(line, str):
        raise TypeError(f"an AGI command is a str, not {type(line).__name__}")
    if _FORBIDDEN.search(line):
        raise ValueError("an AGI command must not contain CR, LF or NUL")
    if len(line.encode("utf-8")) > MAX_COMMAND_BYTES:
        raise ValueError(f"an AGI command is limited to {MAX_COMMAND_BYTES} bytes")
    return line


def quote(arg) -> str:
    """One argument, quoted for Asterisk's parser. Accepts str and int."""
    if isinstance(arg, bool) or not isinstance(arg, (str, int)):
        raise TypeError(f"an AGI argument is a str or int, not {type(arg).__name__}")
    text = str(arg)
    if _FORBIDDEN.search(text):
        raise ValueError("an AGI argument must not contain CR, LF or NUL")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def command_line(verb: str, *args) -> str:
    """`command_line("STREAM FILE", "welcome", "12")` -> `STREAM FILE "welcome" "12"`.
    `verb` is the fixed command words and is not quoted."""
    return check_line(" ".join([verb, *(quote(arg) for arg in args)]))


def check_digits(digits: str, what: str = "escape digits") -> str:
    """DTMF digit sets (`0-9 * # A-D`), e.g. the escape digits of STREAM FILE."""
    if not isinstance(digits, str) or not _DIGITS.match(digits):
        raise ValueError(f"{what} must be DTMF digits (0-9 * # A-D), got {digits!r}")
    return digits


def check_app_name(app: str) -> str:
    if not isinstance(app, str) or not _APP_NAME.match(app):
        raise ValueError(f"not a dialplan application name: {app!r}")
    return app
