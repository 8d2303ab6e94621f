"""Keepalive: a Ping after each quiet interval; an unanswered Ping means the link is dead.

A half-open TCP connection (Asterisk host rebooted, a NAT dropped the mapping) looks alive
forever to the reader; only an answer that fails to come shows it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime

from gateway.ami.errors import AmiActionError, AmiTimeout

log = logging.getLogger(__name__)


class Keepalive:
    def __init__(self, clock: IReactorTime, interval: float, send_ping: Callable[[], Deferred],
                 on_dead: Callable[[str], None]):
        self._clock = clock
        self._interval = interval
        self._send_ping = send_ping
        self._on_dead = on_dead
        self._call = None
        self._running = False

    def start(self) -> None:
        if self._interval and self._interval > 0:
            self._running = True
            self._schedule()

    def stop(self) -> None:
        self._running = False
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _schedule(self) -> None:
        # Next ping only after the previous answer: pings never pile up on a slow link.
        self._call = self._clock.callLater(self._interval, self._ping)

    def _ping(self) -> None:
        self._call = None
        self._send_ping().addCallbacks(self._answered, self._failed)

    def _answered(self, _response) -> None:
        if self._running:
            self._schedule()

    def _failed(self, failure) -> None:
        if not self._running:
            return None  # link already down or stopping: nothing to say
        if failure.check(AmiTimeout):
            self._running = False
            self._on_dead(f"no answer to Ping: {failure.value}")
        elif failure.check(AmiActionError):
            self._schedule()  # an answer, even an error, proves the link is alive
        else:
            log.debug("keepalive ping ended: %s", failure.value)
        return None
