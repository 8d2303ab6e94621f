"""Test helpers: Asterisk's side of a FastAGI connection, played through StringTransport
with time on a task.Clock, and the recorded byte streams in tests/data/agi."""
from __future__ import annotations

import json
from pathlib import Path

from twisted.internet import task
from twisted.internet.address import IPv4Address
from twisted.internet.error import ConnectionDone
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure
from waiting import settle  # noqa: F401  (the AGI tests import it from here)

DATA = Path(__file__).resolve().parents[2] / "data" / "agi"


def recorded(kind: str) -> list[tuple[str, bytes, dict]]:
    """Every (name, bytes, expectations) pair under tests/data/agi/<kind>/."""
    pairs = []
    for stream in sorted((DATA / kind).glob("*.bin")):
        expected = json.loads(stream.with_suffix(".json").read_text(encoding="utf-8"))
        pairs.append((stream.stem, stream.read_bytes(), expected))
    return pairs


def stream(kind: str, name: str) -> bytes:
    return (DATA / kind / f"{name}.bin").read_bytes()


ENV = stream("env", "inbound")  # the environment of a call to agi://.../inbound


class HalfClosingTransport(StringTransport):
    """A StringTransport that also records a half-close (TCP's loseWriteConnection)."""

    write_closed = False

    def loseWriteConnection(self):
        self.write_closed = True


class FakeAsterisk:
    """Asterisk's end of one connection: send it bytes, read the commands it got."""

    def __init__(self, protocol, transport: StringTransport):
        self.protocol = protocol
        self.transport = transport

    def send(self, data) -> None:
        self.protocol.dataReceived(data.encode("utf-8") if isinstance(data, str) else data)

    def take(self) -> list[str]:
        """The lines the gateway wrote since the last call."""
        text = self.transport.value().decode("utf-8")
        self.transport.clear()
        return text.splitlines()

    @property
    def closed(self) -> bool:
        """The gateway asked for the connection to be closed."""
        return self.transport.disconnecting

    def hang_up_socket(self) -> None:
        """The TCP connection ends (Asterisk closed it, or it completed our close)."""
        self.protocol.connectionLost(Failure(ConnectionDone()))


class Rig:
    """A FastAgiServer on a task.Clock, with connections made of StringTransports."""

    def __init__(self, routes=None, **options):
        self.clock = task.Clock()
        self.ended: list[tuple[object, str]] = []
        options.setdefault("on_session_end", lambda session, reason: self.ended.append((session, reason)))
        from gateway.agi.server import FastAgiServer

        self.server = FastAgiServer(routes or {}, clock=self.clock, **options)

    def connect(self, host: str = "127.0.0.1", port: int = 40000, transport_class=StringTransport):
        address = IPv4Address("TCP", host, port)
        protocol = self.server.buildProtocol(address)
        if protocol is None:
            return None
        transport = transport_class(peerAddress=address)
        protocol.makeConnection(transport)
        return FakeAsterisk(protocol, transport)

    async def call(self, env: bytes = ENV, **connect):
        """Connect, send the environment, and let the handler reach its first command."""
        asterisk = self.connect(**connect)
        asterisk.send(env)
        await settle()
        return asterisk

    @property
    def reasons(self) -> list[str]:
        return [reason for _, reason in self.ended]
