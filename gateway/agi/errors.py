"""What can go wrong in a FastAGI dialogue, as exceptions a handler can catch.

A handler normally lets `AgiHangup` propagate: the server treats it as the ordinary end of
a call. The others mean the gateway or the dialplan needs fixing.
"""
from __future__ import annotations


class AgiError(Exception):
    """Base class of every FastAGI error."""


class AgiHangup(AgiError):
    """The caller hung up (inline `HANGUP`, a `511` reply, or the socket closed)."""


class AgiTimeout(AgiError):
    """Asterisk did not answer a command within its timeout; the session is closed."""


class AgiCommandError(AgiError):
    """Asterisk refused a command (`510` unknown command, `520` bad syntax, or a result
    the convenience method cannot interpret). `reply` is the `AgiReply`; for 520, `usage`
    holds Asterisk's usage text."""

    def __init__(self, message: str, reply=None):
        super().__init__(message)
        self.reply = reply

    @property
    def usage(self) -> str | None:
        if self.reply is not None and self.reply.code == 520:
            return self.reply.data
        return None


class AgiPromptMissing(AgiCommandError):
    """STREAM FILE could not play the prompt (no such sound file), the channel still up.
    Asterisk answers this with `result=-1 endpos=0`, as it does a hang-up: the session
    tells them apart by asking about the channel."""


class AgiProtocolError(AgiError, ValueError):
    """The peer sent bytes that are not FastAGI; the connection cannot continue."""


class MalformedReply(AgiProtocolError):
    """A reply line that is neither `HANGUP` nor `NNN ...`."""


class MalformedEnvironment(AgiProtocolError):
    """A line in the environment block that is not `agi_name: value`, or too many lines."""
