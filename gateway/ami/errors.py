"""Every error the AMI package raises, in one place so callers can catch by family."""
from __future__ import annotations


class AmiError(Exception):
    """Base of all AMI errors."""


class AmiActionError(AmiError):
    """Asterisk answered an action with `Response: Error`; `response` is that message."""

    def __init__(self, message: str, response=None):
        super().__init__(message)
        self.message = message
        self.response = response


class AmiTimeout(AmiError, TimeoutError):
    """No answer (or no connection) within the allowed time."""


class AmiNotConnected(AmiError, ConnectionError):
    """The action cannot be sent, or its answer can no longer arrive: the link is down."""


class AmiLoginError(AmiError):
    """Asterisk refused the login, or the login dialogue went wrong."""


class AmiOversizeError(AmiError):
    """The peer sent a line or a frame beyond the configured cap.

    The parser is dead after this: the connection must be dropped. `messages` holds the
    complete messages that preceded the oversize one in the same feed, so they are not lost.
    """

    what = "frame"

    def __init__(self, limit: int, messages=()):
        super().__init__(f"AMI {self.what} longer than {limit} bytes")
        self.limit = limit
        self.messages = list(messages)


class AmiLineTooLong(AmiOversizeError):
    what = "line"


class AmiFrameTooLarge(AmiOversizeError):
    what = "frame"
