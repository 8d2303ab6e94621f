"""Asterisk's two wire protocols, played back from the recorded captures (tests/data/captures).

`AmiReplay` is an AMI server: it sends the recorded banner, answers the gateway's actions
with recorded response frames, and sends recorded event frames when the test says so (with
the call's identifiers and the clock carried over to this run). `AgiCaller` is Asterisk's
side of one FastAGI connection: the recorded `agi_*` block, then, for each command the
gateway sends, the reply Asterisk recorded for that kind of command, with the keys the test's
caller presses. Neither knows anything of the gateway: no dialplan, no call logic.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from pathlib import Path

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"


# -- AMI -----------------------------------------------------------------------------------
class AmiCapture:
    """One recorded AMI connection: its banner line and its frames, in order."""

    def __init__(self, name: str):
        raw = (CAPTURES / f"{name}.bin").read_bytes()
        end = raw.index(b"\r\n") + 2
        self.banner = raw[:end]
        self.frames = [f for f in raw[end:].split(b"\r\n\r\n") if f]

    def response(self, action_id: str) -> bytes:
        return next(f for f in self.frames if f.startswith(b"Response:") and _header(f, "ActionID") == action_id)

    def events(self, *names: str, uniqueid: str | None = None) -> list[bytes]:
        """The recorded events called `names` (all events if none), of one channel if given."""
        return [f for f in self.frames if _header(f, "Event") and (not names or _header(f, "Event") in names)
                and (uniqueid is None or _header(f, "Uniqueid") == uniqueid)]


def _header(frame: bytes, key: str) -> str | None:
    m = re.search(rb"^%s: (.*)$" % key.encode(), frame, re.M)
    return m.group(1).decode().rstrip("\r") if m else None


def _with_header(frame: bytes, key: str, value: str) -> bytes:
    return re.sub(rb"^(%s: ).*?(\r?)$" % key.encode(), lambda m: m.group(1) + value.encode() + m.group(2),
                  frame, count=1, flags=re.M)


CALL = AmiCapture("ami_call_agi")           # the call whose FastAGI side is agi_dialogue
FALLBACK = AmiCapture("ami_call_fallback")  # a call that rang agent 1001, who answered
PLAIN = AmiCapture("ami_login_plain")
REFUSED = AmiCapture("ami_login_refused")

# Recorded responses, by the action they answer.
LOGIN_OK = CALL.response("ami_call_agi-1")
LOGIN_FAILED = REFUSED.response("ami_login_refused-1")
LIST_START = CALL.response("ami_call_agi-2")
LIST_COMPLETE = next(f for f in CALL.events("CoreShowChannelsComplete"))
PING = PLAIN.response("ami_login_plain-2")
GOODBYE = CALL.response("ami_call_agi-5")
# Setvar and Redirect are answered with a bare success; the captures hold none of their own.
SUCCESS = b"Response: Success\r\nActionID: -"


class AmiReplay:
    """An AMI server on loopback that plays the captures back to one client at a time."""

    def __init__(self, username: str, secret: str):
        self.username, self.secret = username, secret
        self.actions: list[dict[str, str]] = []  # every action received, in order
        self.port: int | None = None
        self._server = None
        self._writer = None
        self._logged_in = asyncio.Event()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._server.close()
        await self._server.wait_closed()

    async def logged_in(self, timeout: float = 10) -> None:
        await asyncio.wait_for(self._logged_in.wait(), timeout)

    def actions_named(self, name: str) -> list[dict[str, str]]:
        return [a for a in self.actions if a.get("Action", "").lower() == name.lower()]

    async def send_events(self, frames: list[bytes], rename: dict[str, str] | None = None) -> None:
        """Send recorded event frames as Asterisk would now: identifiers renamed (`rename`:
        recorded -> this call's, e.g. another capture's uniqueid), timestamps of this moment."""
        assert self._writer is not None, "no AMI client connected"
        for frame in frames:
            for old, new in (rename or {}).items():
                frame = frame.replace(old.encode(), new.encode())
            if _header(frame, "Timestamp") is not None:
                frame = _with_header(frame, "Timestamp", f"{time.time():.6f}")
            self._writer.write(frame + b"\r\n\r\n")
        await self._writer.drain()

    async def _serve(self, reader, writer) -> None:
        self._writer = writer
        writer.write(CALL.banner)
        buffer = b""
        try:
            while chunk := await reader.read(65536):
                buffer += chunk
                while b"\r\n\r\n" in buffer:
                    text, buffer = buffer.split(b"\r\n\r\n", 1)
                    action = dict(line.split(": ", 1) for line in text.decode().split("\r\n") if ": " in line)
                    self.actions.append(action)
                    for frame in self._answer(action):
                        writer.write(frame + b"\r\n\r\n")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _answer(self, action: dict[str, str]) -> list[bytes]:
        action_id = action.get("ActionID", "")
        name = action.get("Action", "").lower()
        if name == "login":
            ok = action.get("Username") == self.username and action.get("Secret") == self.secret
            if ok:
                self._logged_in.set()
            frames = [LOGIN_OK if ok else LOGIN_FAILED]
        elif name == "coreshowchannels":  # no channel is up when the gateway (re)connects
            frames = [LIST_START, _with_header(LIST_COMPLETE, "ListItems", "0")]
        elif name == "ping":
            frames = [PING]
        elif name == "logoff":
            frames = [GOODBYE]
        else:
            frames = [SUCCESS]
        return [_with_header(f, "ActionID", action_id) for f in frames]


# -- FastAGI -------------------------------------------------------------------------------
DIALOGUE = json.loads((CAPTURES / "agi_dialogue.json").read_text())
_RECORDED = {c["label"]: c["reply"] for c in DIALOGUE["commands"] if c.get("command")}
ENVIRONMENT = (CAPTURES / "agi_dialogue.bin").read_bytes()[:DIALOGUE["env_end"]]
LINKEDID = re.search(r"\((.*)\)", _RECORDED["linkedid"]).group(1)
UNIQUEID = re.search(rb"^agi_uniqueid: (.*)$", ENVIRONMENT, re.M).group(1).decode()
CHANNEL = DIALOGUE["channel"]


class AgiCaller:
    """Asterisk's side of the recorded call's FastAGI connection. The caller presses one
    entry of `keys` whenever the gateway waits for a key (WAIT FOR DIGIT) or digits (GET
    DATA), and lets every prompt play to its end."""

    def __init__(self, keys: list[str]):
        self.keys = list(keys)
        self.commands: list[str] = []
        self.variables: dict[str, str] = {}

    async def call(self, port: int, timeout: float = 20) -> None:
        """Connect, send the environment, answer commands until the gateway closes."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(ENVIRONMENT)
            while line := await asyncio.wait_for(reader.readline(), timeout):
                command = line.decode().rstrip("\n")
                self.commands.append(command)
                writer.write(self._reply(command).encode())
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _reply(self, command: str) -> str:
        words = re.findall(r'"((?:[^"\\]|\\.)*)"|(\S+)', command)
        args = [quoted or bare for quoted, bare in words]
        verb = " ".join(a for a in args[:3] if a.isupper() and a.isalpha())
        if verb == "ANSWER":
            return _RECORDED["answer"]
        if verb == "GET FULL VARIABLE" and args[-1] == "${CHANNEL(linkedid)}":
            return _RECORDED["linkedid"]
        if verb.startswith("STREAM FILE"):
            return _RECORDED["stream_not_interrupted"]
        if verb.startswith("WAIT FOR DIGIT"):
            if not self.keys:
                return _RECORDED["wait_for_digit_timeout"]
            return _RECORDED["wait_for_digit"].replace("52", str(ord(self.keys.pop(0))))
        if verb.startswith("GET DATA"):
            if not self.keys:
                return _RECORDED["get_data_timeout"]
            return _RECORDED["get_data"].replace("12", self.keys.pop(0))
        if verb.startswith("SET VARIABLE"):
            self.variables[args[2]] = args[3]
            return _RECORDED["set_variable"]
        if verb == "EXEC":  # e.g. Set(CHANNEL(language)=tr): the capture has no EXEC; an
            return _RECORDED["answer"]  # application that succeeds answers like ANSWER did
        if verb.startswith("GET VARIABLE"):
            return _RECORDED["get_variable_missing"]
        return _RECORDED["invalid_command"]
