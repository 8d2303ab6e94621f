"""The FastAGI server protocol: bytes in, an environment block, then one command at a time,
each paired with its reply.

It knows nothing of routes or handlers: when the environment is complete it calls
`on_environment(protocol, env)`, and when the connection is gone `on_disconnect(protocol)`.
Commands come in through `send_command`, which returns an asyncio Future the protocol
resolves with the `AgiReply` or fails with an `AgiError`.
"""
from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from typing import Callable

from twisted.protocols.basic import LineOnlyReceiver

from gateway.agi.access import Peer
from gateway.agi.eager_write import write_now
from gateway.agi.environment import EnvironmentReader
from gateway.agi.errors import (AgiCommandError, AgiError, AgiHangup, AgiProtocolError, AgiTimeout,
                                MalformedEnvironment, MalformedReply)
from gateway.agi.replies import HANGUP, AgiReply, ReplyAssembler

log = logging.getLogger(__name__)

# Replies and environment lines are short; a longer line is not Asterisk talking.
MAX_LINE_BYTES = 8192

ENV, COMMANDS, CLOSING, CLOSED = "env", "commands", "closing", "closed"


class _Command:
    __slots__ = ("line", "future", "timeout", "deadline")

    def __init__(self, line: str, future: asyncio.Future, timeout: float):
        self.line, self.future, self.timeout, self.deadline = line, future, timeout, None

    def fail(self, error: AgiError) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class FastAgiProtocol(LineOnlyReceiver):
    delimiter = b"\n"
    MAX_LENGTH = MAX_LINE_BYTES

    def __init__(self, *, clock, env_timeout: float, command_timeout: float,
                 on_environment: Callable, on_disconnect: Callable):
        self.clock = clock
        self.env_timeout = env_timeout
        self.command_timeout = command_timeout
        self._on_environment = on_environment
        self._on_disconnect = on_disconnect
        self._env_reader = EnvironmentReader()
        self._replies = ReplyAssembler()
        self.phase = ENV
        self.peer: Peer | None = None
        self.label = "?"  # who this is in log lines: the peer, then the channel
        self.hung_up = False
        self._env_timer = None
        self._deadline_timer = None
        self._in_flight: _Command | None = None
        self._queue: deque[_Command] = deque()
        # Once the session is over, every later command fails with a fresh one of these.
        self._end_error: Callable[[], AgiError] | None = None

    # -- connection --------------------------------------------------------------------

    def connectionMade(self) -> None:
        self.peer = Peer.of(self.transport.getPeer())
        self.label = str(self.peer)
        self._env_timer = self.clock.callLater(self.env_timeout, self._env_timed_out)

    def connectionLost(self, reason=None) -> None:
        self.phase = CLOSED
        self._cancel_timers()
        if self._end_error is None:
            self._end_error = lambda: AgiHangup("connection closed")
        self._fail_pending(self._end_error)
        self._on_disconnect(self)

    @property
    def disconnected(self) -> bool:
        return self.phase == CLOSED

    def dataReceived(self, data: bytes) -> None:
        if self.phase in (ENV, COMMANDS):  # after we decided to close, input is ignored
            super().dataReceived(data)

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8", "replace")
        if text.endswith("\r"):
            text = text[:-1]
        if self.phase == COMMANDS:
            self._reply_line(text)
        elif self.phase == ENV:
            self._env_line(text)

    def lineLengthExceeded(self, line: bytes) -> None:
        self._close(lambda: AgiProtocolError("line too long"),
                    f"line longer than {self.MAX_LENGTH} bytes from the peer")

    # -- environment -------------------------------------------------------------------

    def _env_line(self, text: str) -> None:
        try:
            env = self._env_reader.feed(text)
        except MalformedEnvironment as exc:
            self._close(lambda: AgiProtocolError(str(exc)), str(exc))
            return
        if env is not None:
            self._cancel_timers()
            self.phase = COMMANDS
            self.label = env.channel or self.label
            self._on_environment(self, env)

    def _env_timed_out(self) -> None:
        self._env_timer = None
        self._close(lambda: AgiTimeout("no environment"),
                    f"no complete environment block within {self.env_timeout:g}s")

    def _cancel_timers(self) -> None:
        for timer in (self._env_timer, self._deadline_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._env_timer = self._deadline_timer = None

    # -- commands ----------------------------------------------------------------------

    def send_command(self, line: str, timeout: float | None = None) -> asyncio.Future:
        """Queue one command line (already checked: one line, quoted); the Future gets its
        reply. `timeout` overrides `command_timeout`; `math.inf` waits without limit."""
        future = asyncio.get_event_loop().create_future()
        if self._end_error is not None:
            future.set_exception(self._end_error())
        elif self.hung_up:
            future.set_exception(AgiHangup("the channel has hung up"))
        elif self.phase != COMMANDS:
            future.set_exception(AgiProtocolError("no session on this connection yet"))
        else:
            command = _Command(line, future, self.command_timeout if timeout is None else timeout)
            if self._in_flight is None:
                self._write(command)
            else:
                self._queue.append(command)  # AGI is strictly one command at a time
        return future

    def _write(self, command: _Command) -> None:
        self._in_flight = command
        write_now(self.transport, command.line.encode("utf-8") + b"\n")
        if command.timeout != math.inf:
            command.deadline = self.clock.seconds() + command.timeout
            self._arm_deadline(command.deadline)

    # One lazy timer per connection rather than one per command: a reply does not cancel
    # it; when it fires it checks the command then in flight and re-arms for what is left.
    def _arm_deadline(self, deadline: float) -> None:
        timer = self._deadline_timer
        if timer is not None and timer.active():
            if timer.getTime() <= deadline:
                return
            timer.cancel()
        self._deadline_timer = self.clock.callLater(max(0.0, deadline - self.clock.seconds()),
                                                    self._check_deadline)

    def _check_deadline(self) -> None:
        self._deadline_timer = None
        command = self._in_flight
        if command is None or command.deadline is None:
            return
        remaining = command.deadline - self.clock.seconds()
        if remaining > 0:
            self._deadline_timer = self.clock.callLater(remaining, self._check_deadline)
            return
        # A late reply would be taken for the next command's, so the session cannot go on.
        why = f"no reply to {_command_name(command.line)} within {command.timeout:g}s"
        self._close(lambda: AgiTimeout(why), why)

    def _send_next(self) -> None:
        while self._queue and self._in_flight is None:
            command = self._queue.popleft()
            if not command.future.done():  # skip commands cancelled while queued
                self._write(command)

    # -- replies -----------------------------------------------------------------------

    def _reply_line(self, text: str) -> None:
        if text == "" and not self._replies.in_progress:
            return  # a stray blank line carries nothing
        try:
            event = self._replies.feed(text)
        except MalformedReply as exc:
            self._close(lambda: AgiProtocolError(str(exc)), str(exc))
            return
        if event is HANGUP:
            self._hangup_notice()
        elif event is not None:
            self._reply_received(event)

    def _hangup_notice(self) -> None:
        log.debug("FastAGI %s: HANGUP", self.label)
        self.hung_up = True
        # Asterisk still answers the command in flight (usually 511): its slot stays taken
        # so that reply is absorbed, but the handler hears of the hang-up now.
        if self._in_flight is not None:
            self._in_flight.fail(AgiHangup("the channel hung up"))
        self._fail_queue(lambda: AgiHangup("the channel hung up"))

    def _reply_received(self, reply: AgiReply) -> None:
        command = self._in_flight
        if command is None:
            self._close(lambda: AgiProtocolError("unexpected reply"),
                        f"reply with no command in flight: {reply.raw[:80]!r}")
            return
        self._in_flight = None
        if not command.future.done():
            outcome = _outcome(command.line, reply)
            if isinstance(outcome, AgiError):
                command.future.set_exception(outcome)
            else:
                command.future.set_result(outcome)
        if reply.code == 511:
            self.hung_up = True
            self._fail_queue(lambda: AgiHangup("the channel hung up"))
        self._send_next()

    # -- ending ------------------------------------------------------------------------

    def finish(self, failure_notice: bool = False) -> None:
        """End the session and close the connection. With `failure_notice`, first tell
        Asterisk the AGI failed (it reads a `FAILURE` line as AGISTATUS=FAILURE), so the
        dialplan's fallback takes the call."""
        if self.phase in (CLOSING, CLOSED):
            return
        if failure_notice:
            self.transport.write(b"FAILURE\n")
        self._close(lambda: AgiHangup("the session has ended"), None)

    def _close(self, error: Callable[[], AgiError], why: str | None) -> None:
        if self.phase in (CLOSING, CLOSED):
            return
        if why:
            log.warning("FastAGI %s: %s; closing the connection", self.label, why)
        self.phase = CLOSING
        self._cancel_timers()
        if self._end_error is None:
            self._end_error = error
        self._fail_pending(self._end_error)
        self.transport.loseConnection()

    def _fail_pending(self, error: Callable[[], AgiError]) -> None:
        command, self._in_flight = self._in_flight, None
        if command is not None:
            command.fail(error())
        self._fail_queue(error)

    def _fail_queue(self, error: Callable[[], AgiError]) -> None:
        while self._queue:
            self._queue.popleft().fail(error())


def _outcome(line: str, reply: AgiReply):
    """The reply for a 200, else the error a handler should see."""
    if reply.code == 200:
        return reply
    if reply.code == 511:
        return AgiHangup("the channel has hung up (511)")
    name = _command_name(line)
    if reply.code == 510:
        return AgiCommandError(f"Asterisk does not know the command {name} (510)", reply)
    if reply.code == 520:
        return AgiCommandError(f"invalid syntax for {name} (520): {reply.data}", reply)
    return AgiCommandError(f"unexpected reply to {name}: {reply.raw[:200]!r}", reply)


def _command_name(line: str) -> str:
    """`SET VARIABLE "PIN" "1234"` -> 'SET VARIABLE': names a command in errors and logs
    without the caller's data."""
    return repr(" ".join(word for word in line.split(" ", 2)[:2] if not word.startswith('"')))
