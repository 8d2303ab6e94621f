"""Test side of an AMI connection: plays Asterisk over a StringTransport, time on a task.Clock."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from twisted.internet.testing import MemoryReactorClock, StringTransportWithDisconnection

from gateway.ami.frames import AmiFrameParser
from gateway.ami.message import AmiMessage
from waiting import settle  # noqa: F401  (the AMI tests import it from here)

DATA = Path(__file__).resolve().parents[2] / "data" / "ami"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def fixture(name: str) -> bytes:
    return (DATA / name).read_bytes()


def frame(*pairs, **fields) -> bytes:
    """Wire bytes of one frame: frame(("Event", "Hangup"), Uniqueid="1.2")."""
    items = list(pairs) + list(fields.items())
    return ("".join(f"{k}: {v}\r\n" for k, v in items) + "\r\n").encode()


def md5_key(challenge: str, secret: str) -> str:
    return hashlib.md5((challenge + secret).encode()).hexdigest()


class FakeAsterisk:
    """The server end of one connection to an AmiProtocol."""

    def __init__(self, protocol):
        self.protocol = protocol
        self.transport = StringTransportWithDisconnection()
        self.transport.protocol = protocol
        self._read = 0
        self._actions: list[AmiMessage] = []
        self._parser = AmiFrameParser(expect_banner=False)
        protocol.makeConnection(self.transport)

    # what the client wrote
    def actions(self) -> list[AmiMessage]:
        data = self.transport.value()
        self._actions += self._parser.feed(data[self._read:])
        self._read = len(data)
        return list(self._actions)

    def last_action(self, name: str | None = None) -> AmiMessage:
        actions = [a for a in self.actions() if name is None or a.get("Action") == name]
        assert actions, f"no {name or ''} action sent; sent: {[a.get('Action') for a in self.actions()]}"
        return actions[-1]

    # what Asterisk says
    def feed(self, data: bytes) -> None:
        self.protocol.dataReceived(data)

    def reply(self, action: AmiMessage | str | None = None, *pairs, **fields) -> None:
        if not isinstance(action, AmiMessage):
            action = self.last_action(action)
        response = fields.pop("Response", "Success")
        self.feed(frame(("Response", response), ("ActionID", action["ActionID"]), *pairs, **fields))

    def event(self, name: str, **fields) -> None:
        self.feed(frame(("Event", name), **fields))

    def login(self, secret: str = "s3cret", auth: str = "md5") -> None:
        """Banner plus a successful login dialogue."""
        self.feed(BANNER)
        if auth == "md5":
            challenge = self.last_action("Challenge")
            self.reply(challenge, Response="Success", Challenge="840310928")
            login = self.last_action("Login")
            assert login["Key"] == md5_key("840310928", secret)
        self.reply("Login", Response="Success", Message="Authentication accepted")
        self.event("FullyBooted", Privilege="system,all", Status="Fully Booted")

    def drop(self) -> None:
        self.transport.loseConnection()

    def replay(self, stream: bytes) -> None:
        """Feed a recorded server->client stream, mapping its ActionIDs onto the ones this
        client sends, in order of first appearance (recorded IDs cannot match ours)."""
        mapping: dict[str, str] = {}
        used = 0
        banner, _, rest = stream.partition(b"\n")
        self.feed(banner + b"\n")
        for raw in re.split(rb"\r?\n\r?\n", rest):
            if not raw.strip():
                continue
            match = re.search(rb"^ActionID: ?(.*?)\r?$", raw, re.M)
            if match:
                recorded = match.group(1).decode()
                if recorded not in mapping:
                    ours = [a["ActionID"] for a in self.actions()]
                    if used < len(ours):
                        mapping[recorded] = ours[used]
                        used += 1
                if recorded in mapping:
                    raw = raw[:match.start(1)] + mapping[recorded].encode() + raw[match.end(1):]
            self.feed(raw + b"\r\n\r\n")


def connect(reactor: MemoryReactorClock, index: int = -1) -> FakeAsterisk:
    """Accept the client's latest connectTCP on a MemoryReactorClock."""
    _host, _port, factory, _timeout, _bind = reactor.tcpClients[index]
    return FakeAsterisk(factory.buildProtocol(None))
