"""pjsua2 test phones in a process of their own: `python -m gateway.rig.phone_worker`.

The asyncio side (gateway/rig/phones.py) talks to this process in JSON lines:

    stdin   {"id": 7, "cmd": "call", "call": "c1", "number": "100", "caller_id": "+905321234567"}
    stdout  {"id": 7, "ok": true, "result": {...}}        the reply to request 7
            {"id": 7, "ok": false, "error": "..."}        or its failure
            {"event": "call_state", "call": "c1", "state": "confirmed", "code": 200, ...}

so a pjsua crash (an assertion aborts the process) or its threads never touch the test
process. One worker hosts the carrier account (callers) and agent accounts; this pjsua
build caps a process at 4 calls (PJSUA_MAX_CALLS) and 8 accounts (PJSUA_MAX_ACC; one more
aborts), so the parent spreads phones over several workers.

Threading: pjsua2-pybind11 does not release the GIL when Python calls into pjsua, while
pjsua's own worker threads take pjsua locks and then need the GIL for a Python callback;
the two can deadlock. So pjsua runs with no worker thread (uaConfig.threadCnt = 0) and this
process's main thread polls `pjsua_handle_events()` itself through ctypes (which releases the
GIL while it waits). Every pjsua call and every Python callback happens on the main thread.
stdin is read by a helper thread that only queues the lines.

Commands: init, call, dtmf, hangup, register, unregister, forget, answer, agent_hangup,
ping, quit, abort (crash on purpose, for tests). Events: call_state, media, incoming, reg_state, dtmf_sent, fatal.
"""
from __future__ import annotations

import ctypes
import glob
import heapq
import itertools
import json
import os
import queue
import sys
import threading
import time
import traceback

import pjsua2 as pj

MAX_CALLS = 4  # PJSUA_MAX_CALLS of this build: a larger max_calls is capped to it
STATE_NAMES = {
    pj.InvState.NULL: "null",
    pj.InvState.CALLING: "calling",
    pj.InvState.INCOMING: "incoming",
    pj.InvState.EARLY: "early",
    pj.InvState.CONNECTING: "connecting",
    pj.InvState.CONFIRMED: "confirmed",
    pj.InvState.DISCONNECTED: "disconnected",
}

# The protocol's own stdout: C code (pjsua's console log) writes to fd 1, so fd 1 is pointed
# at stderr and the JSON lines go to a private duplicate of the original stdout.
_proto_out = None
_out_lock = threading.Lock()


def emit(obj: dict) -> None:
    line = json.dumps(obj, separators=(",", ":")) + "\n"
    with _out_lock:
        _proto_out.write(line)
        _proto_out.flush()


def _load_handle_events():
    """pjsua_handle_events() from the pjsua library pjsua2 already loaded (ctypes drops the GIL)."""
    libs = os.path.join(os.path.dirname(pj.__file__), "pjsua2_pybind11.libs")
    for path in sorted(glob.glob(os.path.join(libs, "libpjsua-*.so*"))):
        try:
            lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_GLOBAL)
        except OSError:
            continue
        fn = lib.pjsua_handle_events
        fn.argtypes = [ctypes.c_uint]
        fn.restype = ctypes.c_int
        return fn
    raise RuntimeError(f"libpjsua not found next to {pj.__file__}: cannot poll pjsua events")


class Phones:
    """All pjsua state of this worker; driven from the main thread only."""

    def __init__(self):
        self.ep: pj.Endpoint | None = None
        self.cfg: dict = {}
        self.carrier: CarrierAccount | None = None
        self.agents: dict[str, AgentAccount] = {}
        self.calls: dict[str, PhoneCall] = {}  # key -> call (ours: "c1"; incoming: "1001#1")
        self.timers: list = []  # heap of (due, seq, fn)
        self._seq = itertools.count()
        self.graveyard: list = []  # pjsua objects to drop outside their callbacks
        self.running = True

    # -- timers (answer after N seconds) --------------------------------------------------
    def later(self, delay: float, fn) -> None:
        heapq.heappush(self.timers, (time.monotonic() + max(0.0, delay), next(self._seq), fn))

    def run_timers(self) -> None:
        now = time.monotonic()
        while self.timers and self.timers[0][0] <= now:
            _, _, fn = heapq.heappop(self.timers)
            try:
                fn()
            except Exception as exc:  # a timer must not kill the worker
                print(f"phone_worker: timer failed: {exc!r}", file=sys.stderr, flush=True)

    # -- commands ---------------------------------------------------------------------------
    def cmd_init(self, sip_host: str, sip_port: int, carrier_user: str = "carrier",
                 carrier_secret: str = "", agent_secret: str = "", log_level: int = 0,
                 log_path: str | None = None, bind: str = "127.0.0.1", carrier: bool = True) -> dict:
        self.cfg = dict(sip_host=sip_host, sip_port=int(sip_port), carrier_user=carrier_user,
                        carrier_secret=carrier_secret, agent_secret=agent_secret)
        ep = pj.Endpoint()
        ep.libCreate()
        ep_cfg = pj.EpConfig()
        ep_cfg.uaConfig.threadCnt = 0  # we poll pjsua_handle_events() on this thread
        ep_cfg.uaConfig.maxCalls = MAX_CALLS
        # pjsua2 bypasses pjsua's own log file; its console log goes to fd 1, which is our
        # stderr (kept by the parent as the tail shown when we die) or, with log_path, a file.
        # Errors and warnings (level 2) always reach the tail.
        if log_path:
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            os.dup2(fd, 1)
            os.close(fd)
        level = max(2, int(log_level))
        ep_cfg.logConfig.level = level
        ep_cfg.logConfig.consoleLevel = level if log_path else 2
        ep_cfg.logConfig.decor = ep_cfg.logConfig.decor  # time, sender, thread: pjsua's default
        ep_cfg.medConfig.noVad = True  # keep sending RTP in silence (DTMF needs a flowing stream)
        ep.libInit(ep_cfg)
        tcfg = pj.TransportConfig()
        tcfg.boundAddress = bind
        tcfg.port = 0
        self.transport_id = ep.transportCreate(pj.TransportType.UDP, tcfg)
        ep.libStart()
        # No sound card: a null device clocks pjsua's conference bridge.
        ep.audDevManager.setNullDev()
        self.ep = ep
        if carrier:  # a worker playing the customers has none: every INVITE is then theirs
            self.carrier = CarrierAccount(self)
            self.carrier.setup()
        info = ep.transportGetInfo(self.transport_id)
        return {"local": info.localName, "pid": os.getpid(), "pjsua": ep.version.full}

    def cmd_ping(self) -> dict:
        return {"calls": len(self.calls), "agents": sorted(self.agents)}

    def cmd_call(self, call: str, number: str, caller_id: str = "", display: str = "") -> dict:
        if call in self.calls:
            raise ValueError(f"call id {call!r} in use")
        host, port = self.cfg["sip_host"], self.cfg["sip_port"]
        c = PhoneCall(self, call, self.carrier, owner="carrier")
        prm = pj.CallOpParam(True)
        if caller_id in ("", "anonymous", None):
            prm.txOption.localUri = f'"Anonymous" <sip:anonymous@anonymous.invalid>'
            for name, value in (("Privacy", "id"),):
                h = pj.SipHeader()
                h.hName, h.hValue = name, value
                prm.txOption.headers.append(h)
        else:
            name = f'"{display}" ' if display else ""
            prm.txOption.localUri = f"{name}<sip:{caller_id}@{host}>"
        self.calls[call] = c
        try:
            c.makeCall(f"sip:{number}@{host}:{port}", prm)
        except Exception:
            del self.calls[call]
            raise
        return {"call": call, "pj_id": c.id}

    def cmd_dtmf(self, call: str, digits: str) -> dict:
        c = self._call(call)
        c.dialDtmf(digits)
        emit({"event": "dtmf_sent", "call": call, "digits": digits})
        return {}

    def cmd_hangup(self, call: str, code: int = 0) -> dict:
        c = self._call(call)
        c.end(code)
        return {}

    def cmd_register(self, account: str, answer_after: float | None = 1.0, secret: str | None = None) -> dict:
        if account in self.agents:
            raise ValueError(f"agent {account} is already registered in this worker")
        a = AgentAccount(self, account, answer_after)
        a.setup(secret or self.cfg["agent_secret"])
        self.agents[account] = a
        return {}

    def cmd_unregister(self, account: str) -> dict:
        a = self._agent(account)
        for c in list(a.active_calls()):
            c.end(0)
        a.setRegistration(False)
        a.unregistering = True
        return {}

    def cmd_forget(self, account: str) -> dict:
        """Drop an unregistered agent account (frees its slot)."""
        a = self.agents.pop(account, None)
        if a is not None:
            a.shutdown()
            self.graveyard.append(a)
        return {}

    def cmd_answer(self, account: str) -> dict:
        a = self._agent(account)
        ringing = [c for c in a.active_calls() if c.state in ("incoming", "early")]
        if not ringing:
            raise ValueError(f"agent {account} has no ringing call")
        ringing[0].answer_now()
        return {"call": ringing[0].key}

    def cmd_agent_hangup(self, account: str) -> dict:
        a = self._agent(account)
        calls = list(a.active_calls())
        for c in calls:
            c.end(0)
        return {"calls": [c.key for c in calls]}

    def cmd_abort(self, message: str = "") -> dict:
        """Crash on purpose (tests of the parent's error reporting)."""
        print(f"phone_worker: aborting on request: {message}", file=sys.stderr, flush=True)
        os.abort()

    def cmd_quit(self) -> dict:
        self.running = False
        return {}

    def _call(self, key: str) -> "PhoneCall":
        try:
            return self.calls[key]
        except KeyError:
            raise ValueError(f"no call {key!r} (ended calls are forgotten)") from None

    def _agent(self, account: str) -> "AgentAccount":
        try:
            return self.agents[account]
        except KeyError:
            raise ValueError(f"no agent {account!r} in this worker") from None

    def connect_audio(self, call: "PhoneCall") -> bool:
        """Audio must flow for RFC 4733 DTMF to be sent: null capture -> call -> null playback."""
        info = call.info
        for i, m in enumerate(info.media):
            if m.type == pj.MediaType.AUDIO and m.status == pj.CallMediaStatus.ACTIVE:
                aud = call.getAudioMedia(-1)
                adm = self.ep.audDevManager
                adm.captureDevMedia.startTransmit(aud)
                aud.startTransmit(adm.playbackDevMedia)
                return True
        return False

    def shutdown(self) -> None:
        """Hang up, unregister, give pjsua a moment to send the BYEs/REGISTERs."""
        if self.ep is None:
            return
        try:
            self.ep.hangupAllCalls()
        except Exception:
            pass
        for a in self.agents.values():
            try:
                if a.info.regIsActive:
                    a.setRegistration(False)
            except Exception:
                pass
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            handle_events(20)
            if not self.calls and not any(_reg_active(a) for a in self.agents.values()):
                break


def _reg_active(a) -> bool:
    try:
        return bool(a.info.regIsActive)
    except Exception:
        return False


class CarrierAccount(pj.Account):
    """The trunk callers come from: no registration, authenticates as the carrier."""

    def __init__(self, phones: Phones):
        super().__init__()
        self.phones = phones

    def setup(self) -> None:
        cfg = self.phones.cfg
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{cfg['carrier_user']}@{cfg['sip_host']}"
        acfg.regConfig.registrarUri = ""
        acfg.regConfig.registerOnAdd = False
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", cfg["carrier_user"], 0, cfg["carrier_secret"]))
        # No credentials in the first INVITE: Asterisk answers 401 and identifies the retry by
        # its Authorization username (identify_by=auth_username). (Sending an empty
        # Authorization up front works too but logs a "Failed to authenticate" per call.)
        acfg.sipConfig.transportId = self.phones.transport_id
        self.create(acfg)

    def onIncomingCall(self, prm) -> None:
        # Nothing calls the carrier on the rig; refuse.
        c = pj.Call(self, prm.callId)
        op = pj.CallOpParam()
        op.statusCode = pj.StatusCode.NOT_FOUND
        c.hangup(op)
        self.phones.graveyard.append(c)  # not deleted inside pjsua's callback


class AgentAccount(pj.Account):
    """An agent phone: registers, rings, answers after `answer_after` seconds (None: never)."""

    def __init__(self, phones: Phones, number: str, answer_after: float | None):
        super().__init__()
        self.phones = phones
        self.number = number
        self.answer_after = answer_after
        self.incoming = itertools.count(1)
        self.unregistering = False

    def setup(self, secret: str) -> None:
        cfg = self.phones.cfg
        acfg = pj.AccountConfig()
        acfg.idUri = f"sip:{self.number}@{cfg['sip_host']}"
        acfg.regConfig.registrarUri = f"sip:{cfg['sip_host']}:{cfg['sip_port']}"
        acfg.regConfig.timeoutSec = 120
        acfg.regConfig.retryIntervalSec = 5
        acfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", self.number, 0, secret))
        acfg.sipConfig.transportId = self.phones.transport_id
        self.create(acfg)

    def active_calls(self):
        return [c for c in self.phones.calls.values() if c.owner == self.number]

    def onRegState(self, prm) -> None:
        try:
            active = bool(self.info.regIsActive)
        except Exception:
            active = False
        emit({"event": "reg_state", "account": self.number, "code": int(prm.code), "reason": prm.reason,
              "expires": int(prm.expiration), "active": active})
        if self.unregistering and not active:
            # Unregistered: free the account slot, outside this callback.
            self.phones.later(0, lambda: self.phones.cmd_forget(self.number))

    def onIncomingCall(self, prm) -> None:
        key = f"{self.number}#{next(self.incoming)}"
        c = PhoneCall(self.phones, key, self, owner=self.number, call_id=prm.callId)
        self.phones.calls[key] = c
        remote = local = ""
        try:
            info = c.info
            remote, local = info.remoteUri, info.localUri
        except Exception:
            pass
        emit({"event": "incoming", "account": self.number, "call": key, "from": remote, "to": local})
        op = pj.CallOpParam()
        op.statusCode = pj.StatusCode.RINGING
        c.answer(op)
        if self.answer_after is not None:
            self.phones.later(float(self.answer_after), c.answer_now)


class PhoneCall(pj.Call):
    def __init__(self, phones: Phones, key: str, account: pj.Account, owner: str, call_id: int | None = None):
        if call_id is None:
            super().__init__(account)
        else:
            super().__init__(account, call_id)
        self.phones = phones
        self.key = key
        self.owner = owner
        self.state = "null"
        self.audio = False

    def answer_now(self) -> None:
        if self.state in ("incoming", "early") and self.key in self.phones.calls:
            op = pj.CallOpParam()
            op.statusCode = pj.StatusCode.OK
            self.answer(op)

    def end(self, code: int = 0) -> None:
        if self.state == "disconnected":
            return
        op = pj.CallOpParam()
        if code:
            op.statusCode = pj.StatusCode(code)
        self.hangup(op)

    def onCallState(self, prm) -> None:
        info = self.info
        self.state = STATE_NAMES.get(info.state, str(info.state))
        emit({"event": "call_state", "call": self.key, "owner": self.owner, "state": self.state,
              "code": int(info.lastStatusCode), "reason": info.lastReason,
              "remote": info.remoteUri, "call_id": info.callIdString})
        if self.state == "disconnected":
            # Forget it after this callback returns (pjsua still uses the object now).
            self.phones.calls.pop(self.key, None)
            self.phones.graveyard.append(self)

    def onCallMediaState(self, prm) -> None:
        try:
            active = self.phones.connect_audio(self)
        except Exception as exc:
            print(f"phone_worker: connecting audio of {self.key} failed: {exc!r}", file=sys.stderr, flush=True)
            active = False
        if active != self.audio or active:
            self.audio = active
            emit({"event": "media", "call": self.key, "owner": self.owner, "active": active})


handle_events = None


def main() -> int:
    global _proto_out, handle_events
    # Keep the protocol stream to ourselves (see _proto_out).
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    _proto_out = os.fdopen(proto_fd, "w", buffering=1)
    sys.stdout = sys.stderr
    handle_events = _load_handle_events()

    lines: queue.Queue = queue.Queue()

    def read_stdin():
        for line in sys.stdin:
            lines.put(line)
        lines.put(None)  # EOF: the parent is gone

    threading.Thread(target=read_stdin, name="stdin", daemon=True).start()
    phones = Phones()
    eof = False
    while phones.running and not eof:
        if phones.ep is not None:
            handle_events(10)  # up to 10 ms waiting for SIP/timer events, GIL released
            phones.graveyard.clear()
        try:
            # Before init there is nothing to poll: block on stdin a little instead.
            pending = [lines.get(timeout=0.1)] if phones.ep is None else []
        except queue.Empty:
            pending = []
        while True:
            try:
                pending.append(lines.get_nowait())
            except queue.Empty:
                break
        for line in pending:
            if line is None:
                eof = True
                break
            if line.strip():
                _dispatch(phones, line)
        phones.run_timers()
    phones.shutdown()
    emit({"event": "bye"})
    _proto_out.flush()
    # pjsua's destructors run in an order pybind11 does not control; the process is done.
    os._exit(0)


def _dispatch(phones: Phones, line: str) -> None:
    try:
        msg = json.loads(line)
    except ValueError:
        emit({"event": "fatal", "error": f"not JSON: {line[:200]!r}"})
        return
    rid = msg.pop("id", None)
    cmd = msg.pop("cmd", "")
    fn = getattr(phones, f"cmd_{cmd}", None)
    try:
        if fn is None:
            raise ValueError(f"unknown command {cmd!r}")
        if cmd != "init" and phones.ep is None:
            raise RuntimeError("send init first")
        result = fn(**msg)
        emit({"id": rid, "ok": True, "result": result or {}})
    except Exception as exc:
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        print(f"phone_worker: {cmd} failed: {detail}", file=sys.stderr, flush=True)
        emit({"id": rid, "ok": False, "error": detail})


if __name__ == "__main__":
    sys.exit(main())
