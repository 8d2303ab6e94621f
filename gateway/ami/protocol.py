"""The AMI connection as a Twisted protocol: banner, login, actions, lists, events, keepalive.

One instance per TCP connection; AmiClient makes a new one on every reconnect. Internally
actions are Deferreds (synchronous, so tests drive everything with StringTransport and a
task.Clock); `action()` / `action_list()` hand asyncio Futures to coroutine code.
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol as TypingProtocol

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure

from gateway.ami.actions import action_pairs, encode_pairs
from gateway.ami.dispatch import EventDispatcher
from gateway.ami.errors import (AmiActionError, AmiLoginError, AmiNotConnected, AmiOversizeError,
                                AmiTimeout)
from gateway.ami.frames import DEFAULT_MAX_FRAME, DEFAULT_MAX_LINE, AmiFrameParser
from gateway.ami.keepalive import Keepalive
from gateway.ami.message import AmiMessage
from gateway.ami.redact import format_pairs

log = logging.getLogger(__name__)

BANNER_PREFIX = "Asterisk Call Manager/"
DEFAULT_MAX_LIST_EVENTS = 100_000


@dataclass(frozen=True)
class AmiCredentials:
    username: str
    secret: str = field(repr=False)
    auth: str = "md5"  # "md5": Challenge + Key, the secret never crosses the wire; "plain": Secret
    events: str = "on"  # Login's Events: "on", "off", or an event class list ("call,agent")

    def __post_init__(self):
        if self.auth not in ("md5", "plain"):
            raise ValueError(f"auth must be 'md5' or 'plain', not {self.auth!r}")


class AmiConnectionListener(TypingProtocol):
    """What the owner of a connection (AmiClient) hears about it."""

    def ami_ready(self, protocol: "AmiProtocol") -> None: ...
    def ami_login_failed(self, protocol: "AmiProtocol", reason: str) -> None: ...
    def ami_lost(self, protocol: "AmiProtocol", reason: Failure) -> None: ...


class _Pending:
    __slots__ = ("name", "action_id", "deferred", "timer", "collect", "response", "events")

    def __init__(self, name: str, action_id: str, collect: bool):
        self.name = name
        self.action_id = action_id
        self.collect = collect
        self.deferred: Deferred | None = None
        self.timer = None
        self.response: AmiMessage | None = None
        self.events: list[AmiMessage] = []


_fallback_ids = itertools.count(1)


class AmiProtocol(Protocol):
    def __init__(self, credentials: AmiCredentials, dispatcher: EventDispatcher, *,
                 clock: IReactorTime, listener: AmiConnectionListener | None = None,
                 action_timeout: float = 10.0, keepalive_interval: float = 20.0,
                 next_action_id: Callable[[], str] | None = None,
                 max_line: int = DEFAULT_MAX_LINE, max_frame: int = DEFAULT_MAX_FRAME,
                 max_list_events: int = DEFAULT_MAX_LIST_EVENTS):
        self.credentials = credentials
        self.dispatcher = dispatcher
        self.clock = clock
        self.listener = listener
        self.action_timeout = action_timeout
        self.max_list_events = max_list_events
        self._next_action_id = next_action_id or (lambda: f"ctigw-{next(_fallback_ids)}")
        self._parser = AmiFrameParser(max_line=max_line, max_frame=max_frame)
        self._pending: dict[str, _Pending] = {}
        self._lists: dict[str, _Pending] = {}  # list actions still gathering events
        self._keepalive = Keepalive(clock, keepalive_interval, self._ping, self._link_dead)
        self._banner_timer = None
        self._lost_waiters: list[Deferred] = []
        self.banner: str | None = None
        self.ready = False    # logged in: actions may be sent
        self.closed = False   # connectionLost has run
        self._dropping = False

    # -- Twisted side ------------------------------------------------------------------------

    def connectionMade(self) -> None:
        self.dispatcher.attach_flow_control(self.transport.pauseProducing, self.transport.resumeProducing)
        # Something that accepts TCP but never speaks AMI must not hold us forever.
        self._banner_timer = self.clock.callLater(self.action_timeout, self._no_banner)

    def dataReceived(self, data: bytes) -> None:
        if self._dropping:
            return
        try:
            messages = self._parser.feed(data)
        except AmiOversizeError as err:
            self._handle_messages(err.messages)
            log.error("AMI peer %s sent a %s longer than %d bytes; dropping the connection",
                      self._peer(), err.what, err.limit)
            self._drop()
            return
        if self.banner is None and self._parser.banner is not None:
            self._on_banner(self._parser.banner)
        self._handle_messages(messages)

    def connectionLost(self, reason: Failure = None) -> None:
        if self.closed:
            return
        self.closed = True
        self.ready = False
        self._keepalive.stop()
        self._cancel_banner_timer()
        self.dispatcher.detach_flow_control()
        if self._parser.buffered:
            log.info("AMI connection closed mid-frame; %d bytes discarded", self._parser.buffered)
        why = reason.getErrorMessage() if reason is not None else "closed"
        for pending in list(self._pending.values()):
            self._fail(pending, AmiNotConnected(f"AMI connection lost before {pending.name} was answered ({why})"))
        if self.listener is not None:
            self.listener.ami_lost(self, reason)
        waiters, self._lost_waiters = self._lost_waiters, []
        for waiter in waiters:
            waiter.callback(None)

    # -- public API --------------------------------------------------------------------------

    def action(self, name: str, fields: Mapping | None = None, *, timeout: float | None = None) -> asyncio.Future:
        """Send an action once logged in; the Future gives the response AmiMessage."""
        return self._as_future(self._ready_action(name, fields, timeout, collect=False))

    def action_list(self, name: str, fields: Mapping | None = None, *,
                    timeout: float | None = None) -> asyncio.Future:
        """A list action (CoreShowChannels, QueueStatus...): Future of (response, [events]);
        the events are the items, without the closing `EventList: Complete` one."""
        return self._as_future(self._ready_action(name, fields, timeout, collect=True))

    def send_action(self, name: str, fields: Mapping | None = None, *, timeout: float | None = None,
                    collect: bool = False) -> Deferred:
        """Send now, logged in or not (login uses it). Fires with the response, or with
        (response, events) when `collect`; fails with AmiActionError / AmiTimeout /
        AmiNotConnected. `timeout` is the whole answer's, list events included."""
        if self.closed or self.transport is None or self._dropping:
            raise AmiNotConnected(f"cannot send {name}: not connected to Asterisk")
        action_id = self._next_action_id()
        pairs = action_pairs(name, action_id, fields)  # validates before anything is registered
        pending = _Pending(name, action_id, collect)
        pending.deferred = Deferred(canceller=lambda _d: self._forget(pending))
        pending.timer = self.clock.callLater(self.action_timeout if timeout is None else timeout,
                                             self._expire, pending)
        self._pending[action_id] = pending
        if collect:
            self._lists[action_id] = pending
        if log.isEnabledFor(logging.DEBUG):
            log.debug("AMI -> %s", format_pairs(pairs))
        self.transport.write(encode_pairs(pairs))
        return pending.deferred

    def when_lost(self) -> Deferred:
        """Fires (with None) once the connection is gone."""
        waiter = Deferred()
        if self.closed:
            waiter.callback(None)
        else:
            self._lost_waiters.append(waiter)
        return waiter

    def disconnect(self) -> None:
        """Polite close: Logoff, then close once it is written."""
        if self.closed or self.transport is None:
            return
        if self.ready:
            self.send_action("Logoff").addErrback(lambda _f: None)
        self.ready = False
        self._keepalive.stop()
        self.transport.loseConnection()

    @property
    def pending_actions(self) -> int:
        return len(self._pending)

    # -- login -------------------------------------------------------------------------------

    def _on_banner(self, banner: str) -> None:
        self.banner = banner
        self._cancel_banner_timer()
        if banner.startswith(BANNER_PREFIX):
            log.info("connected to %s (%s)", self._peer(), banner)
        else:
            log.warning("unexpected AMI banner from %s: %r; trying to log in anyway", self._peer(), banner[:80])
        self._login().addCallbacks(self._logged_in, self._login_refused)

    def _login(self) -> Deferred:
        creds = self.credentials
        if creds.auth == "plain":
            return self.send_action("Login", {"Username": creds.username, "Secret": creds.secret,
                                              "Events": creds.events})

        def answer_challenge(response: AmiMessage) -> Deferred:
            challenge = response.get("Challenge")
            if not challenge:
                raise AmiLoginError("Asterisk answered Challenge without a challenge")
            key = hashlib.md5((challenge + creds.secret).encode("utf-8")).hexdigest()
            return self.send_action("Login", {"AuthType": "MD5", "Username": creds.username, "Key": key,
                                              "Events": creds.events})

        return self.send_action("Challenge", {"AuthType": "MD5"}).addCallback(answer_challenge)

    def _logged_in(self, response: AmiMessage) -> None:
        if self.closed:
            return
        self.ready = True
        log.info("logged in to AMI at %s as %r", self._peer(), self.credentials.username)
        self._keepalive.start()
        if self.listener is not None:
            self.listener.ami_ready(self)

    def _login_refused(self, failure: Failure) -> None:
        if failure.check(AmiNotConnected) or self.closed:
            return None  # connectionLost tells the listener
        if failure.check(AmiActionError, AmiTimeout, AmiLoginError):
            reason = str(failure.value)
        else:
            reason = f"unexpected {failure.type.__name__}: {failure.value}"
        if self.listener is not None:
            self.listener.ami_login_failed(self, reason)
        else:
            log.error("AMI login as %r refused: %s", self.credentials.username, reason)
        self._drop()
        return None

    def _no_banner(self) -> None:
        self._banner_timer = None
        log.error("no AMI banner from %s within %.1fs; dropping the connection", self._peer(), self.action_timeout)
        self._drop()

    # -- incoming messages -------------------------------------------------------------------

    def _handle_messages(self, messages: list[AmiMessage]) -> None:
        dispatch = self.dispatcher.dispatch
        for message in messages:
            if message.event is not None and not self._lists:
                dispatch(message)  # the hot path: an event, no list action collecting
            else:
                self._handle_one(message)

    def _handle_one(self, message: AmiMessage) -> None:
        if message.event is not None:
            pending = self._lists.get(message.get("ActionID"))
            if pending is None:
                self.dispatcher.dispatch(message)
                return
            if (message.get("EventList") or "").lower() == "complete":
                self._list_complete(pending, message)
                return
            pending.events.append(message)
            if len(pending.events) > self.max_list_events:
                self._fail(pending, AmiActionError(
                    f"{pending.name} sent more than {self.max_list_events} events", pending.response))
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("AMI <- %r", message)
        pending = self._pending.get(message.get("ActionID"))
        if pending is None:
            log.debug("AMI response for no pending action: %r", message)
            return
        if message.get("Response") == "Error":
            self._fail(pending, AmiActionError(message.get("Message") or f"{pending.name} failed", message))
        elif pending.collect and (message.get("EventList") or "").lower() == "start":
            pending.response = message  # events follow, closed by `EventList: Complete`
        elif pending.collect:
            self._succeed(pending, (message, []))
        else:
            self._succeed(pending, message)

    def _list_complete(self, pending: _Pending, complete: AmiMessage) -> None:
        # The closing event (CoreShowChannelsComplete...) is not an item; its count is a check.
        items = complete.get("ListItems")
        if items is not None and items.isdigit() and int(items) != len(pending.events):
            log.warning("%s announced %s items but %d arrived", pending.name, items, len(pending.events))
        self._succeed(pending, (pending.response, pending.events))

    # -- pending action bookkeeping ----------------------------------------------------------

    def _forget(self, pending: _Pending) -> bool:
        if self._pending.pop(pending.action_id, None) is None:
            return False
        self._lists.pop(pending.action_id, None)
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        return True

    def _succeed(self, pending: _Pending, result) -> None:
        if self._forget(pending):
            pending.deferred.callback(result)

    def _fail(self, pending: _Pending, error: Exception) -> None:
        if self._forget(pending):
            pending.deferred.errback(Failure(error))

    def _expire(self, pending: _Pending) -> None:
        pending.timer = None
        waited = "events" if pending.response is not None else "a response"
        self._fail(pending, AmiTimeout(f"{pending.name} got no {waited} from Asterisk in time"))

    # -- keepalive and dropping --------------------------------------------------------------

    def _ping(self) -> Deferred:
        try:
            return self.send_action("Ping")
        except AmiNotConnected as err:
            return _failed(err)

    def _link_dead(self, reason: str) -> None:
        log.warning("AMI link to %s looks dead (%s); dropping it", self._peer(), reason)
        self._drop()

    def _drop(self) -> None:
        """Abort at once: used when the link is dead or the peer is misbehaving."""
        if self._dropping or self.closed:
            return
        self._dropping = True
        self.ready = False
        self.transport.abortConnection()

    def _ready_action(self, name, fields, timeout, *, collect: bool) -> Deferred:
        if not self.ready:
            raise AmiNotConnected(f"cannot send {name}: not logged in to Asterisk")
        return self.send_action(name, fields, timeout=timeout, collect=collect)

    @staticmethod
    def _as_future(deferred: Deferred) -> asyncio.Future:
        return deferred.asFuture(asyncio.get_event_loop())

    def _cancel_banner_timer(self) -> None:
        if self._banner_timer is not None and self._banner_timer.active():
            self._banner_timer.cancel()
        self._banner_timer = None

    def _peer(self) -> str:
        try:
            peer = self.transport.getPeer()
            return f"{peer.host}:{peer.port}"
        except Exception:
            return "Asterisk"


def _failed(error: Exception) -> Deferred:
    d = Deferred()
    d.errback(Failure(error))
    return d
