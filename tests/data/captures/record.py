#!/usr/bin/env python3
"""Record real AMI and FastAGI byte streams from the rig's Asterisk 22 for the unit tests.

    cd /work/main && sudo .venv/bin/python tests/data/captures/record.py [--out DIR]

(root: the rig chroots into /var/cache/ctigw/asterisk-sid). It starts an Asterisk instance
"capture" (SIP 5190, AMI 5168, AGI 4703, RTP 16000-16999: clear of the trial and of the
e2e test slots), runs the scenarios below with pjsua2 callers (gateway.rig.phones), stops
Asterisk again and rewrites every capture file and README.md in this folder.

The recording side is plain asyncio sockets. No gateway AMI or AGI code is involved, so the
.bin files are exactly the bytes Asterisk wrote to the socket (CRLF kept), in the order it
wrote them. The only change made to any file: the AMI login secret (random for each run) is
replaced by a placeholder of the same length, everywhere it appears.

Scenarios (one AMI connection each, recorded from the banner on):

  ami_login_plain      Login, Ping, Getvar of a missing global, Getvar on a missing channel, Logoff
  ami_login_md5        Challenge (MD5), Login with the key, Ping, Logoff
  ami_login_refused    Login with a wrong secret (Asterisk answers Error and closes)
  ami_call_agi         events of a call to 100 whose FastAGI is served by the script below
                       (agi_dialogue); CoreShowChannels and Getvar while it is up
  ami_call_agi_failure a call whose FastAGI answers "FAILURE" after the environment (agi_failure)
  ami_call_agi_closed  a call whose FastAGI closes right after the environment (agi_closed)
  ami_call_agi_caller_hangup
                       a call whose caller hangs up during WAIT FOR DIGIT (agi_caller_hangup)
  ami_call_agi_missing_prompt
                       a call whose FastAGI plays a missing prompt, sets a variable and ends
                       normally (agi_missing_prompt): AGISTATUS after a failed command
  ami_call_fallback    nobody listens on the AGI port: connection refused, the dialplan's
                       ctigw-fallback queue rings agent 1001, who answers; CoreShowChannels
                       while the two are bridged; the caller hangs up

The FastAGI dialogue (agi_dialogue) sends the commands in AGI_SCRIPT one at a time, in the
quoting the gateway's AgiSession uses, with the caller pressing digits or hanging up where
a step says so; its .json lists every command, where in the .bin its reply starts, and the
reply text.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import hashlib
import json
import secrets
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = HERE.parents[2]
sys.path.insert(0, str(PROJECT_ROOT))

from gateway.rig.asterisk import AsteriskRig  # noqa: E402  (rig tooling only: no AMI/AGI code)
from gateway.rig.phones import PhoneBank  # noqa: E402

INSTANCE = "capture"
SIP_PORT, AMI_PORT, AGI_PORT = 5190, 5168, 4703
RTP_START, RTP_END = 16000, 16999
AMI_USER = "ctigw"
CALLER_ID = "+905321234567"
NUMBER = "100"
AGENT = "1001"

SECRET_PLACEHOLDER = "*REDACTED-AMI-SECRET-24*"
WRONG_SECRET = "wrong-secret-on-purpose"
assert len(SECRET_PLACEHOLDER) == 24

# The FastAGI dialogue: (label, command line, what the caller does meanwhile).
# Caller actions: ("press", digits, after_seconds) or ("hangup", after_seconds).
# The command lines are quoted as gateway.agi.session writes them, except the deliberately
# broken ones (the unknown command and the one that draws a usage text).
AGI_SCRIPT = [
    ("answer", "ANSWER", None),
    ("linkedid", 'GET FULL VARIABLE "${CHANNEL(linkedid)}"', None),
    ("stream_not_interrupted", 'STREAM FILE "beep" "0123456789*#"', None),
    ("stream_interrupted", 'STREAM FILE "demo-congrats" "0123456789*#"', ("press", "5", 1.0)),
    ("stream_missing_file", 'STREAM FILE "ctigw-no-such-prompt" ""', None),
    ("wait_for_digit", 'WAIT FOR DIGIT "5000"', ("press", "4", 0.7)),
    ("wait_for_digit_timeout", 'WAIT FOR DIGIT "500"', None),
    ("get_data", 'GET DATA "beep" "3000" "2"', ("press", "12", 1.0)),
    ("get_data_timeout", 'GET DATA "beep" "1000" "2"', None),
    ("say_digits", 'SAY DIGITS "123" ""', None),
    ("set_variable", 'SET VARIABLE "CTIGW_CAPTURE" "hello (world)"', None),
    ("get_variable", 'GET VARIABLE "CTIGW_CAPTURE"', None),
    ("get_variable_missing", 'GET VARIABLE "CTIGW_NO_SUCH_VARIABLE"', None),
    ("invalid_command", "NO SUCH COMMAND", None),
    ("bad_usage", "STREAM FILE", None),
    ("hangup_mid_command", 'STREAM FILE "demo-congrats" "#"', ("hangup", 1.0)),
    ("after_hangup", 'WAIT FOR DIGIT "1000"', None),
    ("after_hangup_dead_capable", 'GET VARIABLE "CTIGW_CAPTURE"', None),
]


def _git(*args: str) -> str:
    import subprocess

    try:
        return subprocess.run(["git", *args], cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def log(*args) -> None:
    print(time.strftime("%H:%M:%S"), *args, flush=True)


# ----------------------------------------------------------------------------- AMI side

class AmiRecorder:
    """One AMI connection: every byte Asterisk sends kept in `raw`, frames split naively
    (banner line, then `\\r\\n\\r\\n`) only to know when to send the next action."""

    def __init__(self, name: str, port: int = AMI_PORT):
        self.name = name
        self.port = port
        self.raw = bytearray()
        self.frames: list[dict[str, str]] = []
        self.sent: list[dict] = []
        self.eof = False
        self._scan = 0          # offset in raw up to which frames were split
        self._banner_done = False
        self._ids = 0
        self._changed = asyncio.Event()
        self._reader = self._writer = None
        self._task = None

    async def connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self.port)
        self._task = asyncio.ensure_future(self._read())
        await self.wait(lambda: self._banner_done, 5, "the banner")

    async def _read(self) -> None:
        while True:
            try:
                chunk = await self._reader.read(65536)
            except ConnectionError:
                chunk = b""
            if not chunk:
                self.eof = True
                self._changed.set()
                return
            self.raw += chunk
            self._split()
            self._changed.set()

    def _split(self) -> None:
        if not self._banner_done:
            end = self.raw.find(b"\r\n")
            if end < 0:
                return
            self._banner_done = True
            self._scan = end + 2
        while True:
            end = self.raw.find(b"\r\n\r\n", self._scan)
            if end < 0:
                return
            frame = {}
            for line in bytes(self.raw[self._scan:end]).decode("utf-8", "replace").split("\r\n"):
                key, _, value = line.partition(": ")
                frame.setdefault(key, value)
            self.frames.append(frame)
            self._scan = end + 4

    async def wait(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if self.eof:
                raise RuntimeError(f"{self.name}: AMI closed while waiting for {what}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError(f"{self.name}: timed out waiting for {what}")
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)

    def send(self, action: str, **fields) -> str:
        self._ids += 1
        action_id = f"{self.name}-{self._ids}"
        lines = [f"Action: {action}", f"ActionID: {action_id}"]
        lines += [f"{key}: {value}" for key, value in fields.items()]
        text = "\r\n".join(lines) + "\r\n\r\n"
        self.sent.append({"at": len(self.raw), "action": action, "action_id": action_id, "text": text})
        self._writer.write(text.encode())
        return action_id

    def response(self, action_id: str):
        for frame in self.frames:
            if "Response" in frame and frame.get("ActionID") == action_id:
                return frame
        return None

    async def action(self, action: str, timeout: float = 10, **fields) -> dict:
        """Send an action and wait for its response (and, for a list, its Complete event)."""
        action_id = self.send(action, **fields)
        frame = await self.wait(lambda: self.response(action_id), timeout, f"the response to {action}")
        if frame.get("EventList") == "start":
            await self.wait(lambda: any(f.get("ActionID") == action_id and f.get("EventList") == "Complete"
                                        for f in self.frames), timeout, f"the end of the {action} list")
        return frame

    def events(self, name: str) -> list[dict]:
        return [f for f in self.frames if f.get("Event") == name]

    async def logoff(self, timeout: float = 5) -> None:
        """Logoff and read until Asterisk closes the connection."""
        if not self.eof:
            self.send("Logoff")
        await self.until_closed(timeout)

    async def until_closed(self, timeout: float = 5) -> None:
        with contextlib.suppress(RuntimeError):
            await self.wait(lambda: self.eof, timeout, "the connection to close")
        await self.close()

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
            self._writer = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None


async def ami_login(ami: AmiRecorder, secret: str, *, md5: bool = False) -> dict:
    if not md5:
        return await ami.action("Login", Username=AMI_USER, Secret=secret)
    challenge = await ami.action("Challenge", AuthType="MD5")
    key = hashlib.md5((challenge["Challenge"] + secret).encode()).hexdigest()
    return await ami.action("Login", AuthType="MD5", Username=AMI_USER, Key=key)


# ----------------------------------------------------------------------------- AGI side

class AgiListener:
    """A bare asyncio listener on the AGI port; connections are handed out in order."""

    def __init__(self, port: int = AGI_PORT):
        self.port = port
        self.connections: asyncio.Queue = asyncio.Queue()
        self.server = None

    async def start(self) -> None:
        self.server = await asyncio.start_server(
            lambda r, w: self.connections.put_nowait(AgiConnection(r, w)), "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    async def accept(self, timeout: float = 20) -> "AgiConnection":
        return await asyncio.wait_for(self.connections.get(), timeout)


class AgiConnection:
    """Asterisk's side of one FastAGI connection, every byte it sent kept in `raw`."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer
        self.raw = bytearray()
        self._pos = 0           # offset in raw of the next unread line
        self.eof = False
        self.env_end = None
        self.log: list[dict] = []

    async def _more(self, timeout: float) -> None:
        chunk = await asyncio.wait_for(self.reader.read(65536), timeout)
        if not chunk:
            self.eof = True
        self.raw += chunk

    async def line(self, timeout: float) -> str | None:
        """The next line Asterisk sent (without its \\n), or None at EOF."""
        deadline = time.monotonic() + timeout
        while True:
            end = self.raw.find(b"\n", self._pos)
            if end >= 0:
                text = bytes(self.raw[self._pos:end]).decode("utf-8", "replace")
                self._pos = end + 1
                return text
            if self.eof:
                return None
            await self._more(max(0.01, deadline - time.monotonic()))

    async def read_env(self, timeout: float = 10) -> dict[str, str]:
        env = {}
        while True:
            text = await self.line(timeout)
            if text is None:
                raise RuntimeError("AGI connection closed inside the environment block")
            if text == "":
                self.env_end = self._pos
                return env
            key, _, value = text.partition(": ")
            env[key] = value

    async def command(self, label: str, line: str, action=None, call=None, timeout: float = 60) -> dict:
        # Bytes already received but not yet read as lines (e.g. a HANGUP notice that came
        # after the last reply) were sent by Asterisk before this command: `sent_at` marks
        # the point in the stream, the reader goes on from where it was.
        sent_at = len(self.raw)
        self.writer.write(line.encode() + b"\n")
        await self.writer.drain()
        task = asyncio.ensure_future(caller_does(call, action)) if action else None
        lines, hangup, eof = [], False, False
        final = None
        usage = False
        while final is None:
            text = await self.line(timeout)
            if text is None:
                eof = True
                break
            lines.append(text)
            if text == "HANGUP":
                hangup = True
            elif usage:
                if text.startswith("520 "):
                    final = text
            elif text.startswith("520-"):
                usage = True
            elif text[:4] == "100 ":
                continue
            elif len(text) >= 3 and text[:3].isdigit():
                final = text
        if action and action[0] == "hangup" and not hangup and not eof:
            # The HANGUP notice may come right after the reply of the command in flight.
            with contextlib.suppress(asyncio.TimeoutError):
                while not hangup:
                    text = await self.line(5)
                    if text is None:
                        eof = True
                        break
                    lines.append(text)
                    hangup = text == "HANGUP"
        if task is not None:
            await task
        entry = {"label": label, "command": line, "sent_at": sent_at, "lines": lines,
                 "caller": _describe_action(action), "eof": eof}
        self.log.append(entry)
        log(f"  AGI {label}: {line!r} -> {lines!r}")
        return entry

    def finish_log(self) -> list[dict]:
        """Each command's `reply`: what Asterisk sent from that command on, up to the next one."""
        for entry, after in zip(self.log, self.log[1:] + [None]):
            end = after["sent_at"] if after is not None else len(self.raw)
            entry["reply_end"] = end
            entry["reply"] = bytes(self.raw[entry["sent_at"]:end]).decode("utf-8", "replace")
        return self.log

    async def drain_until_eof(self, timeout: float) -> None:
        """Record whatever Asterisk still sends until it closes (or `timeout` passes)."""
        with contextlib.suppress(asyncio.TimeoutError, ConnectionError):
            deadline = time.monotonic() + timeout
            while not self.eof and time.monotonic() < deadline:
                await self._more(max(0.01, deadline - time.monotonic()))

    async def half_close_and_drain(self, timeout: float) -> None:
        """Send EOF (the AGI script ends), record what Asterisk still sends until it closes."""
        with contextlib.suppress(Exception):
            await self.writer.drain()
            self.writer.write_eof()
        await self.drain_until_eof(timeout)
        await self.close()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(Exception):
            await self.writer.wait_closed()


def _describe_action(action) -> str | None:
    if action is None:
        return None
    if action[0] == "press":
        return f"presses {action[1]} {action[2]:g} s after the command was sent"
    return f"hangs up {action[1]:g} s after the command was sent"


async def caller_does(call, action) -> None:
    if action[0] == "press":
        await asyncio.sleep(action[2])
        await call.send_digits(action[1], gap=0.3)
    elif action[0] == "hangup":
        await asyncio.sleep(action[1])
        await call.hangup()


# ----------------------------------------------------------------------------- scenarios

class Recording:
    def __init__(self, out: Path, rig: AsteriskRig, bank: PhoneBank, version: str):
        self.out = out
        self.rig = rig
        self.bank = bank
        self.version = version
        self.date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.files: dict[str, str] = {}   # file name -> one-line description
        self.facts: dict[str, object] = {}

    # -- saving ------------------------------------------------------------------------

    def redact(self, data: bytes) -> bytes:
        return data.replace(self.rig.ami_secret.encode(), SECRET_PLACEHOLDER.encode())

    def save(self, name: str, data: bytes, meta: dict, description: str) -> None:
        (self.out / f"{name}.bin").write_bytes(self.redact(bytes(data)))
        meta = {"recorded": self.date, "asterisk": self.version, **meta}
        text = json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
        (self.out / f"{name}.json").write_bytes(self.redact(text.encode()))
        self.files[name] = description
        log(f"saved {name}.bin ({len(data)} bytes) and {name}.json")

    def save_ami(self, ami: AmiRecorder, description: str, **extra) -> None:
        meta = {"scenario": description, "file": f"{ami.name}.bin",
                "what": "every byte Asterisk sent on one AMI connection, from the banner on",
                "actions": ami.sent, **extra}
        self.save(ami.name, ami.raw, meta, description)

    def save_agi(self, name: str, conn: AgiConnection, description: str, **extra) -> None:
        meta = {"scenario": description, "file": f"{name}.bin",
                "what": "every byte Asterisk sent on one FastAGI connection: the agi_* block, "
                        "then its replies to the commands listed here",
                "env_end": conn.env_end, "commands": conn.finish_log(), "eof": conn.eof, **extra}
        self.save(name, conn.raw, meta, description)

    # -- helpers -----------------------------------------------------------------------

    async def idle(self) -> None:
        """Until Asterisk has no channel left, plus a moment for late events."""
        for _ in range(100):
            out = await self.rig.acli("core show channels count")
            if "0 active channels" in out:
                break
            await asyncio.sleep(0.2)
        else:
            await self.rig.acli("channel request hangup all")
            await asyncio.sleep(1)
        await asyncio.sleep(1.0)

    async def events_quiet(self, ami: AmiRecorder, hangups: int, timeout: float = 20) -> None:
        await ami.wait(lambda: len(ami.events("Hangup")) >= hangups, timeout, f"{hangups} Hangup events")
        # Trailing events (Cdr, Cel, DeviceStateChange, ...) after the last Hangup.
        await asyncio.sleep(1.5)

    # -- AMI logins --------------------------------------------------------------------

    async def login_plain(self) -> None:
        ami = AmiRecorder("ami_login_plain")
        await ami.connect()
        reply = await ami_login(ami, self.rig.ami_secret)
        assert reply["Response"] == "Success", reply
        await asyncio.sleep(0.5)  # FullyBooted (and whatever else) after the login
        await ami.action("Ping")
        await ami.action("Getvar", Variable="CTIGW_NO_SUCH_GLOBAL")
        await ami.action("Getvar", Channel="PJSIP/no-such-channel-00000000", Variable="CTIGW_NO_SUCH_VARIABLE")
        await ami.logoff()
        self.save_ami(ami, "plain Login, Ping, Getvar of a missing global variable, Getvar on a "
                           "channel that does not exist, Logoff")

    async def login_md5(self) -> None:
        ami = AmiRecorder("ami_login_md5")
        await ami.connect()
        reply = await ami_login(ami, self.rig.ami_secret, md5=True)
        assert reply["Response"] == "Success", reply
        await asyncio.sleep(0.5)
        await ami.action("Ping")
        await ami.logoff()
        self.save_ami(ami, "Challenge (AuthType MD5), Login with the MD5 key, Ping, Logoff")

    async def login_refused(self) -> None:
        ami = AmiRecorder("ami_login_refused")
        await ami.connect()
        reply = await ami_login(ami, WRONG_SECRET)
        assert reply["Response"] == "Error", reply
        t0 = time.monotonic()
        await ami.until_closed(10)
        self.facts["ami_refused_closed_after_s"] = round(time.monotonic() - t0, 1)
        self.save_ami(ami, "plain Login with a wrong secret; Asterisk answers Error and closes the "
                           "connection", closed_by_asterisk=ami.eof)

    # -- calls -------------------------------------------------------------------------

    async def call_with_agi_script(self, listener: AgiListener) -> None:
        ami = AmiRecorder("ami_call_agi")
        await ami.connect()
        await ami_login(ami, self.rig.ami_secret)
        await asyncio.sleep(0.5)
        call = await self.bank.call(NUMBER, caller_id=CALLER_ID)
        conn = await listener.accept()
        env = await conn.read_env()
        await call.wait_media(timeout=15)
        channel = env["agi_channel"]
        extra = {"channel": channel, "caller_id": CALLER_ID, "number": NUMBER}
        for label, line, action in AGI_SCRIPT:
            entry = await conn.command(label, line, action, call)
            if label == "linkedid":
                # While the call is up: a list response and Getvar on the live channel.
                await ami.action("CoreShowChannels")
                await ami.action("Getvar", Channel=channel, Variable="CTIGW_NO_SUCH_VARIABLE")
                await ami.action("Getvar", Channel=channel, Variable="CTIGW_DNIS")
            if entry["eof"]:
                break
        conn.log.append({"label": "script_ends", "command": None, "sent_at": len(conn.raw), "lines": None,
                         "caller": None, "eof": None})
        await conn.half_close_and_drain(5)
        conn.log[-1]["eof"] = conn.eof
        await call.wait_ended(15)
        await self.events_quiet(ami, hangups=1)
        await ami.logoff()
        self.save_agi("agi_dialogue", conn, "FastAGI dialogue of a call to 100: the agi_* block, then "
                                            "the replies to AGI_SCRIPT in record.py, ending with the "
                                            "caller hanging up mid-command", **extra)
        self.save_ami(ami, "a call to 100 from +905321234567 whose FastAGI is the agi_dialogue script; "
                           "CoreShowChannels and Getvar while it is up; the caller hangs up during "
                           "STREAM FILE", **extra)
        await self.idle()

    async def call_with_short_agi(self, listener: AgiListener, name: str, script, description: str,
                                  agi_description: str) -> None:
        """A call whose FastAGI runs `script(conn)` after the agi_* block, then ends the
        connection (half-close: Asterisk's last words are recorded too). The caller stays on
        the line (in the fallback queue, with no agent, if the dialplan goes there) until
        Asterisk hangs up, or hangs up itself after 3 s."""
        ami = AmiRecorder(f"ami_call_{name}")
        await ami.connect()
        await ami_login(ami, self.rig.ami_secret)
        await asyncio.sleep(0.5)
        call = await self.bank.call(NUMBER, caller_id=CALLER_ID)
        conn = await listener.accept()
        env = await conn.read_env()
        await call.wait_media(timeout=15)
        await script(conn, call)
        caller_hung_up = any(e.get("caller") and "hangs up" in e["caller"] for e in conn.log)
        if not conn.log or conn.log[-1]["label"] != "failure":  # FAILURE and the EOF go out together
            conn.log.append({"label": "script_ends", "command": None, "sent_at": len(conn.raw), "lines": None,
                             "caller": None, "eof": None})
        await conn.half_close_and_drain(5)
        conn.log[-1]["eof"] = conn.eof
        await asyncio.sleep(3.0)
        hung_up_by_asterisk = not caller_hung_up and call.state == "disconnected"
        if call.state != "disconnected":
            await call.hangup()
        await call.wait_ended(15)
        await self.events_quiet(ami, hangups=1)
        await ami.logoff()
        extra = {"channel": env["agi_channel"], "caller_id": CALLER_ID, "number": NUMBER,
                 "caller_hung_up_during_the_agi": caller_hung_up,
                 "asterisk_hung_up_the_caller": hung_up_by_asterisk}
        self.save_agi(name, conn, agi_description, **extra)
        self.save_ami(ami, description, **extra)
        await self.idle()

    async def call_with_agi_failure(self, listener: AgiListener) -> None:
        async def script(conn: AgiConnection, call) -> None:
            # What gateway.agi.server does to refuse a call: a FAILURE line, then close.
            conn.log.append({"label": "failure", "command": "FAILURE", "sent_at": len(conn.raw), "lines": None,
                             "caller": None, "eof": None})
            conn.writer.write(b"FAILURE\n")
            await conn.writer.drain()

        await self.call_with_short_agi(
            listener, "agi_failure", script,
            "a call to 100 whose FastAGI answers FAILURE after the agi_* block; the caller waits in the "
            "fallback queue (no agent registered) and hangs up after 3 s",
            "FastAGI connection answered with a FAILURE line right after the agi_* block, then half-closed")

    async def call_with_agi_closed(self, listener: AgiListener) -> None:
        async def script(conn: AgiConnection, call) -> None:
            pass  # no command, no FAILURE: the connection just ends

        await self.call_with_short_agi(
            listener, "agi_closed", script,
            "a call to 100 whose FastAGI server ends the connection right after the agi_* block "
            "(no command, no FAILURE line)",
            "FastAGI connection ended by the server (half-close) right after the agi_* block")

    async def call_with_agi_caller_hangup(self, listener: AgiListener) -> None:
        async def script(conn: AgiConnection, call) -> None:
            await conn.command("answer", "ANSWER")
            await conn.command("wait_for_digit_hangup", 'WAIT FOR DIGIT "10000"', ("hangup", 1.0), call)
            await conn.command("after_hangup", 'WAIT FOR DIGIT "1000"')

        await self.call_with_short_agi(
            listener, "agi_caller_hangup", script,
            "a call to 100 whose caller hangs up while the FastAGI waits for a digit; the FastAGI "
            "sends one more command, then ends the connection: AGISTATUS after a clean hang-up",
            "FastAGI dialogue: ANSWER, WAIT FOR DIGIT during which the caller hangs up, one more "
            "command (511), then the server half-closes")

    async def call_with_agi_missing_prompt(self, listener: AgiListener) -> None:
        async def script(conn: AgiConnection, call) -> None:
            await conn.command("stream_missing_file", 'STREAM FILE "ctigw-no-such-prompt" ""')
            await conn.command("set_variable", 'SET VARIABLE "CTIGW_RESULT" "capture:missing-prompt"')

        await self.call_with_short_agi(
            listener, "agi_missing_prompt", script,
            "a call to 100 whose FastAGI plays a prompt that does not exist, sets CTIGW_RESULT and ends "
            "the connection normally: which AGISTATUS does the dialplan get?",
            "FastAGI dialogue: STREAM FILE of a missing prompt, SET VARIABLE, then the server half-closes")

    async def call_to_fallback_queue(self) -> None:
        agent = await self.bank.register_agent(AGENT, answer_after=1.0)
        await asyncio.sleep(1.0)
        ami = AmiRecorder("ami_call_fallback")
        await ami.connect()
        await ami_login(ami, self.rig.ami_secret)
        await asyncio.sleep(0.5)
        call = await self.bank.call(NUMBER, caller_id=CALLER_ID)
        await agent.wait_answered(timeout=30)
        await asyncio.sleep(1.0)
        await ami.action("CoreShowChannels")
        caller = next(f["Channel"] for f in ami.events("Newchannel") if f.get("Channel", "").startswith("PJSIP/carrier"))
        await ami.action("Getvar", Channel=caller, Variable="CTIGW_NO_SUCH_VARIABLE")
        await ami.action("Getvar", Channel=caller, Variable="AGISTATUS")
        await asyncio.sleep(1.0)
        await call.hangup()
        await call.wait_ended(15)
        await agent.wait_call_ended(15)
        await self.events_quiet(ami, hangups=2)
        await ami.logoff()
        self.save_ami(ami, "a call to 100 while nobody serves the AGI port (connection refused): the "
                           "ctigw-fallback queue rings agent 1001, who answers after 1 s; "
                           "CoreShowChannels while they are bridged; the caller hangs up",
                      caller_id=CALLER_ID, number=NUMBER, agent=AGENT, channel=caller)
        await agent.unregister()
        await self.idle()

    # -- README ------------------------------------------------------------------------

    def write_readme(self) -> None:
        conf = _git("rev-parse", "--short", "HEAD") or "?"
        changed = [line[3:] for line in _git("status", "--porcelain", "--", "telephony_conf").splitlines()]
        if changed:
            conf += " plus uncommitted changes to " + ", ".join(f"`{c}`" for c in changed)
        rows = "\n".join(f"| `{name}.bin` | {desc} |" for name, desc in sorted(self.files.items()))
        text = README.format(version=self.version, date=self.date, rows=rows, conf=conf,
                             placeholder=SECRET_PLACEHOLDER, instance=INSTANCE, sip=SIP_PORT, ami=AMI_PORT,
                             agi=AGI_PORT, rtp=f"{RTP_START}-{RTP_END}")
        (self.out / "README.md").write_text(text)


README = """\
# Real byte streams from the rig's Asterisk

Recorded from **{version}** (Debian sid chroot of the rig, `gateway/rig`) on {date}
by `record.py` in this folder; `tests/unit/test_captured_streams.py` runs the gateway's AMI
and FastAGI parsers and its FastAGI server on them.

How: `record.py` starts the rig instance `{instance}` (SIP {sip}, AMI {ami}, AGI {agi},
RTP {rtp}) with the project's `telephony_conf/` (as of commit {conf}), places calls with the pjsua2 test phones
(`gateway/rig/phones.py`, caller `+905321234567` dialling `100`), and talks AMI and FastAGI
over bare asyncio sockets: no gateway AMI/AGI code is on the recording side. Asterisk is
stopped at the end. Re-run it (as root) to refresh every file here:

    .venv/bin/python tests/data/captures/record.py

Each `NAME.bin` holds exactly the bytes Asterisk wrote to one TCP connection, in order (AMI:
from the banner on, `\\r\\n` line ends kept; FastAGI: the `agi_*` block, then the replies,
`\\n` line ends). `NAME.json` says what the recording side sent and when: for AMI `actions`
(each with `at`, the offset in the .bin at which it was sent, and its text), for FastAGI
`commands` (label, command line, `sent_at` offset, the reply text, what the caller did
meanwhile) and `env_end` (where the `agi_*` block ends).

Nothing is redacted except the AMI login secret (random per run), which is replaced by
`{placeholder}` (same length) wherever it appears (only the client-side Login text in
the .json files carries it). The MD5 key of the md5 login is left as sent.

| file | what |
| --- | --- |
{rows}

`.gitattributes` marks the .bin files binary, so no line-ending conversion ever touches them.

## What they show (asserted by tests/unit/test_captured_streams.py)

- AMI: the banner is `Asterisk Call Manager/11.0.0`; a Login is answered `Response: Success`,
  `Message: Authentication accepted`, and no FullyBooted or SuccessfulAuth event follows:
  those are `system` and `security` events, which the gateway's AMI user may not read.
- A wrong secret: `Response: Error`, `Message: Authentication failed`, and Asterisk closes.
- Getvar of a variable that is not set: `Response: Success` with an empty `Value:`; only an
  unknown channel gives `Response: Error` (`Message: No such channel`).
- CoreShowChannels: `Response: Success` with `EventList: start` and `Message: Channels will
  follow`, one `CoreShowChannel` per channel (no Privilege, no Timestamp), then
  `CoreShowChannelsComplete` with `EventList: Complete` and `ListItems: N`.
- Debian's Asterisk is built with the test framework: every call brings `TestEvent` events
  (class `reporting`). Some carry `Channel` without `Uniqueid`/`Linkedid`, one repeats its
  `State` line, and the one of an interrupted playback (`Control: Break`) ends with an extra
  CRLF: an empty line between two frames.
- The caller's number keeps its `+` (`CallerIDNum`, `agi_callerid`); `agi_calleridname` is
  `unknown` without a display name; `agi_version` is Debian's package version.
- STREAM FILE of a missing file: `200 result=-1 endpos=0`. It also leaves AGISTATUS=FAILURE at
  the end of the AGI even when the script goes on and ends normally, so the dialplan sends
  the caller to ctigw-fallback (agi_missing_prompt).
- A 520 usage text is the command's XML documentation, markup included: no `Usage:` line,
  no blank line.
- A hang-up during a command: that command's reply (`200 result=-1`, with `endpos=N` for
  STREAM FILE), then `HANGUP`; later commands get `511`, except those allowed on a dead
  channel (GET VARIABLE), which still answer `200`.
- When the AGI server ends the connection (a close, or a `FAILURE` line), Asterisk writes one
  more `HANGUP` line, whether or not the caller has hung up.
- AGISTATUS: connection refused: FAILURE; a `FAILURE` line: FAILURE; the server closes without
  a command: SUCCESS (the dialplan then hangs up); the caller hangs up: HANGUP.
"""


async def record(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(12)
    assert len(secret) == len(SECRET_PLACEHOLDER)
    rig = AsteriskRig(instance=INSTANCE, sip_port=SIP_PORT, ami_port=AMI_PORT, agi_host="127.0.0.1",
                      agi_port=AGI_PORT, ami_username=AMI_USER, ami_secret=secret,
                      rtp_start=RTP_START, rtp_end=RTP_END)
    log(f"starting Asterisk instance {INSTANCE!r}")
    await asyncio.to_thread(rig.start, 60, replace=True)
    bank = PhoneBank(sip_host="127.0.0.1", sip_port=SIP_PORT, carrier_secret=rig.carrier_secret,
                     agent_secret=rig.agent_secret)
    listener = AgiListener()
    try:
        version = (await rig.acli("core show version")).strip().split(" built by")[0]
        log(version)
        await bank.start()
        rec = Recording(out, rig, bank, version)
        log("AMI logins")
        await rec.login_plain()
        await rec.login_md5()
        await rec.login_refused()
        await listener.start()
        log("call with the AGI script")
        await rec.call_with_agi_script(listener)
        log("call with AGI FAILURE")
        await rec.call_with_agi_failure(listener)
        log("call with AGI closed")
        await rec.call_with_agi_closed(listener)
        log("call with the caller hanging up during the AGI")
        await rec.call_with_agi_caller_hangup(listener)
        log("call with AGI playing a missing prompt")
        await rec.call_with_agi_missing_prompt(listener)
        await listener.stop()
        log("call with nobody on the AGI port")
        await rec.call_to_fallback_queue()
        rec.write_readme()
        (out / ".gitattributes").write_text("# Recorded byte streams: never touched by line-ending conversion.\n"
                                            "*.bin binary\n")
        for leak in (rig.ami_secret, rig.carrier_secret, rig.agent_secret):
            for path in out.iterdir():
                if path.is_file() and leak.encode() in path.read_bytes():
                    raise RuntimeError(f"a secret is left in {path}")
        log("facts:", json.dumps(rec.facts))
    finally:
        await listener.stop()
        await bank.stop()
        log("stopping Asterisk")
        await asyncio.to_thread(rig.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the captures (default: here)")
    args = parser.parse_args()
    asyncio.run(record(args.out))


if __name__ == "__main__":
    main()
