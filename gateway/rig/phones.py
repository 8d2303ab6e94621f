"""Test phones for the rig, driven from asyncio: callers on the carrier trunk and agent phones.

pjsua2 runs in worker processes (`python -m gateway.rig.phone_worker`, see there why), spoken
to in JSON lines. This pjsua build allows 4 calls and 8 accounts per process, so the bank
keeps callers and agents in separate workers: a caller worker places up to 4 calls at once,
an agent worker hosts up to 3 agent phones (leaving a call slot spare, e.g. for a second
call ringing an agent who is busy). It starts more workers as needed (~0.1 s each).

    bank = PhoneBank(sip_host="127.0.0.1", sip_port=5160, carrier_secret=..., agent_secret=...)
    await bank.start()
    agent = await bank.register_agent("1001", answer_after=1.0)
    call = await bank.call(number="100", caller_id="+905321234567", digits="42#")
    await call.wait_state("confirmed", timeout=10)
    await agent.wait_answered(timeout=30)
    await call.hangup()
    await bank.stop()

If a worker dies, every pending request and every wait on its phones raises PhoneWorkerError
with the tail of the worker's stderr.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import os
import sys
import time
from pathlib import Path

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# pjsua2-pybind11 0.1a3 is built with PJSUA_MAX_CALLS 4 (max_calls above it is capped) and
# PJSUA_MAX_ACC 8 (a 9th account aborts the process).
CALLS_PER_WORKER = 4
AGENTS_PER_WORKER = 3
_STATE_ORDER = {"null": 0, "calling": 1, "incoming": 1, "early": 2, "connecting": 3, "confirmed": 4,
                "disconnected": 5}


class PhoneError(RuntimeError):
    """A phone did not do what a test waited for (timeout, call failed, ...)."""


class PhoneWorkerError(PhoneError):
    """The pjsua2 worker process died or refused a command."""


class _Waitable:
    """State that changes on worker events; `_wait(predicate)` until it holds."""

    def __init__(self):
        self._waiters: list[asyncio.Future] = []
        self._error: BaseException | None = None

    def _changed(self) -> None:
        waiters, self._waiters = self._waiters, []
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        self._changed()

    async def _wait(self, predicate, timeout: float | None, what: str):
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            if self._error is not None:
                raise self._error
            fut = loop.create_future()
            self._waiters.append(fut)
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise PhoneError(f"timed out after {timeout}s waiting for {what} ({self._describe()})")
            try:
                await asyncio.wait_for(fut, remaining)
            except asyncio.TimeoutError:
                result = predicate()
                if result:
                    return result
                if self._error is not None:
                    raise self._error from None
                raise PhoneError(f"timed out after {timeout}s waiting for {what} ({self._describe()})") from None

    def _describe(self) -> str:
        return ""


class _Worker:
    """One phone_worker process and its JSON-lines conversation."""

    def __init__(self, bank: "PhoneBank", index: int, role: str):
        self.bank = bank
        self.index = index
        self.role = role  # "callers", "agents" or "customers"
        self.proc: asyncio.subprocess.Process | None = None
        self.pending: dict[int, asyncio.Future] = {}
        self.ids = itertools.count(1)
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=60)
        self.dead: PhoneWorkerError | None = None
        self.agents: set[str] = set()
        self.active_calls: set[str] = set()
        self._tasks: list[asyncio.Task] = []
        self.info: dict = {}

    async def start(self, init: dict) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway.rig.phone_worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            cwd=str(PROJECT_ROOT), env=env, limit=1 << 20)
        self._tasks = [asyncio.ensure_future(self._read_stdout()), asyncio.ensure_future(self._read_stderr())]
        self.info = await self.request("init", timeout=20, **init)

    async def _read_stderr(self) -> None:
        assert self.proc and self.proc.stderr
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                return
            text = line.decode(errors="replace").rstrip()
            self.stderr_tail.append(text)
            log.debug("phone worker %d: %s", self.index, text)

    async def _read_stdout(self) -> None:
        assert self.proc and self.proc.stdout
        try:
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    break
                try:
                    msg = json.loads(line)
                except ValueError:
                    self.stderr_tail.append(f"(stdout) {line.decode(errors='replace').rstrip()}")
                    continue
                if "event" in msg:
                    try:
                        self.bank._on_event(self, msg)
                    except Exception:
                        log.exception("phone event handler failed on %r", msg)
                    continue
                fut = self.pending.pop(msg.get("id"), None)
                if fut is None or fut.done():
                    continue
                if msg.get("ok"):
                    fut.set_result(msg.get("result") or {})
                else:
                    fut.set_exception(PhoneWorkerError(f"phone worker {self.index}: {msg.get('error')}"))
        finally:
            rc = None
            if self.proc is not None:
                with contextlib.suppress(Exception):
                    rc = await asyncio.wait_for(self.proc.wait(), 5)
            await asyncio.sleep(0.05)  # let the stderr reader collect the last lines
            if not self.bank._stopping:
                self._died(rc)

    def _died(self, rc) -> None:
        tail = "\n".join(self.stderr_tail) or "(no stderr output)"
        self.dead = PhoneWorkerError(
            f"phone worker {self.index} (pjsua2, pid {self.proc.pid if self.proc else '?'}) exited "
            f"with status {rc}; last stderr lines:\n{tail}")
        log.error("%s", self.dead)
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(self.dead)
        self.pending.clear()
        self.bank._worker_died(self, self.dead)

    async def request(self, cmd: str, timeout: float = 10.0, **params) -> dict:
        if self.dead is not None:
            raise self.dead
        assert self.proc and self.proc.stdin
        rid = next(self.ids)
        fut = asyncio.get_running_loop().create_future()
        self.pending[rid] = fut
        payload = json.dumps({"id": rid, "cmd": cmd, **params}) + "\n"
        try:
            self.proc.stdin.write(payload.encode())
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            self.pending.pop(rid, None)
            await asyncio.sleep(0.2)
            raise self.dead or PhoneWorkerError(f"phone worker {self.index} closed its stdin; "
                                                f"stderr:\n" + "\n".join(self.stderr_tail))
        try:
            return await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            self.pending.pop(rid, None)
            raise PhoneWorkerError(f"phone worker {self.index} did not answer {cmd!r} within {timeout}s; "
                                   f"stderr:\n" + "\n".join(self.stderr_tail)) from None

    async def stop(self, timeout: float = 5.0) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None and self.dead is None:
            with contextlib.suppress(Exception):
                await self.request("quit", timeout=timeout)
            with contextlib.suppress(Exception):
                self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(BaseException):
                await t


class Call(_Waitable):
    """A caller's call on the carrier trunk."""

    def __init__(self, bank: "PhoneBank", worker: _Worker, key: str, number: str, caller_id: str):
        super().__init__()
        self.bank = bank
        self.worker = worker
        self.id = key
        self.number = number
        self.caller_id = caller_id
        self.state = "null"
        self.last_status_code: int | None = None
        self.disconnect_reason: str | None = None
        self.sip_call_id: str | None = None
        self.media_active = False
        self.history: list[tuple[float, str, int, str]] = []  # (monotonic, state, code, reason)
        self.digits_sent = ""
        self.digits_task: asyncio.Task | None = None

    def __repr__(self) -> str:
        return f"<Call {self.id} to {self.number} from {self.caller_id or 'anonymous'}: {self._describe()}>"

    def _describe(self) -> str:
        s = f"state {self.state}"
        if self.last_status_code:
            s += f", last SIP status {self.last_status_code} {self.disconnect_reason or ''}".rstrip()
        return s

    def _reached(self, state: str) -> bool:
        return any(h[1] == state for h in self.history)

    def _on_state(self, msg: dict) -> None:
        self.state = msg["state"]
        self.last_status_code = msg.get("code")
        self.sip_call_id = msg.get("call_id") or self.sip_call_id
        if self.state == "disconnected":
            self.disconnect_reason = msg.get("reason")
            self.media_active = False
        self.history.append((time.monotonic(), self.state, msg.get("code") or 0, msg.get("reason") or ""))
        self._changed()

    async def wait_state(self, state: str, timeout: float = 10.0) -> "Call":
        """Until the call has reached `state` (calling, early, connecting, confirmed, disconnected).

        Raises PhoneError if the call ends before reaching it."""
        def reached():
            if self._reached(state):
                return True
            if state != "disconnected" and self.state == "disconnected":
                raise PhoneError(f"call {self.id} ended ({self.last_status_code} {self.disconnect_reason}) "
                                 f"before reaching {state!r}")
            return False
        await self._wait(reached, timeout, f"call {self.id} to reach {state!r}")
        return self

    async def wait_media(self, timeout: float = 10.0) -> "Call":
        """Until audio flows (RTP both ways: DTMF can be sent)."""
        def ready():
            if self.media_active:
                return True
            if self.state == "disconnected":
                raise PhoneError(f"call {self.id} ended ({self.last_status_code} {self.disconnect_reason}) "
                                 f"before audio flowed")
            return False
        await self._wait(ready, timeout, f"audio on call {self.id}")
        return self

    async def wait_ended(self, timeout: float = 10.0) -> "Call":
        return await self.wait_state("disconnected", timeout)

    async def send_digits(self, digits: str, gap: float = 0.25) -> None:
        """Press keys one at a time (RFC 4733), `gap` seconds apart."""
        for i, digit in enumerate(digits):
            if i:
                await asyncio.sleep(gap)
            if self.state == "disconnected":
                raise PhoneError(f"call {self.id} ended before digit {digit!r} could be sent")
            await self.worker.request("dtmf", call=self.id, digits=digit)
            self.digits_sent += digit
            self._changed()

    async def _send_later(self, digits: str, after: float, gap: float) -> None:
        await self.wait_media(timeout=30)
        await asyncio.sleep(after)
        await self.send_digits(digits, gap)

    async def hangup(self) -> None:
        if self.state == "disconnected":
            return
        try:
            await self.worker.request("hangup", call=self.id)
        except PhoneWorkerError as exc:
            if "no call" not in str(exc):  # ended meanwhile
                raise


class AgentPhone(_Waitable):
    """An agent's registered phone. Ring/answer/end waits consume events in order: each
    `wait_ringing()` returns the next incoming call not yet waited for, and so on."""

    def __init__(self, bank: "PhoneBank", worker: _Worker, number: str, answer_after: float | None):
        super().__init__()
        self.bank = bank
        self.worker = worker
        self.number = number
        self.answer_after = answer_after
        self.registered = False
        self.reg_code: int | None = None
        self.reg_reason = ""
        self.rings: list[dict] = []     # incoming calls, in order
        self.answers: list[dict] = []   # calls that reached confirmed
        self.ends: list[dict] = []      # calls that ended (answered or not)
        self._seen = {"ring": 0, "answer": 0, "end": 0}
        self.call_states: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"<AgentPhone {self.number}: {self._describe()}>"

    def _describe(self) -> str:
        return (f"registered={self.registered} (last {self.reg_code} {self.reg_reason}), rings={len(self.rings)}, "
                f"answered={len(self.answers)}, ended={len(self.ends)}")

    @property
    def calls_answered(self) -> int:
        return len(self.answers)

    @property
    def active_calls(self) -> list[str]:
        return [k for k, s in self.call_states.items() if s != "disconnected"]

    def _on_reg(self, msg: dict) -> None:
        self.registered = bool(msg.get("active")) and msg.get("code") == 200
        self.reg_code = msg.get("code")
        self.reg_reason = msg.get("reason") or ""
        self._changed()

    def _on_incoming(self, msg: dict) -> None:
        self.call_states[msg["call"]] = "incoming"
        self.rings.append({"call": msg["call"], "from": msg.get("from", ""), "to": msg.get("to", ""),
                           "at": time.monotonic()})
        self._changed()

    def _on_state(self, msg: dict) -> None:
        key = msg["call"]
        self.call_states[key] = msg["state"]
        if msg["state"] == "confirmed":
            self.answers.append({"call": key, "at": time.monotonic()})
        elif msg["state"] == "disconnected":
            self.ends.append({"call": key, "code": msg.get("code"), "reason": msg.get("reason"),
                              "at": time.monotonic()})
        self._changed()

    async def _next(self, kind: str, items: list, timeout: float) -> dict:
        def available():
            return self._seen[kind] < len(items)
        await self._wait(available, timeout, f"agent {self.number} {kind}")
        item = items[self._seen[kind]]
        self._seen[kind] += 1
        return item

    async def wait_registered(self, timeout: float = 10.0) -> "AgentPhone":
        def ok():
            if self.registered:
                return True
            if self.reg_code is not None and self.reg_code >= 300:  # pjsua reports final results only
                raise PhoneError(f"agent {self.number} registration failed: {self.reg_code} {self.reg_reason}")
            return False
        await self._wait(ok, timeout, f"agent {self.number} to register")
        return self

    async def wait_ringing(self, timeout: float = 10.0) -> dict:
        """The next incoming call: {"call": key, "from": remote URI, "to": local URI, "at": monotonic}."""
        return await self._next("ring", self.rings, timeout)

    async def wait_answered(self, timeout: float = 10.0) -> dict:
        return await self._next("answer", self.answers, timeout)

    async def wait_call_ended(self, timeout: float = 10.0) -> dict:
        return await self._next("end", self.ends, timeout)

    async def answer(self) -> None:
        """Answer the ringing call now (for phones with answer_after=None)."""
        await self.worker.request("answer", account=self.number)

    async def hangup(self) -> None:
        await self.worker.request("agent_hangup", account=self.number)

    async def unregister(self, timeout: float = 10.0) -> None:
        if self.number not in self.worker.agents:
            return
        await self.worker.request("unregister", account=self.number)
        try:
            await self._wait(lambda: not self.registered or self.worker.dead is not None, timeout,
                             f"agent {self.number} to unregister")
        finally:
            self.worker.agents.discard(self.number)
            self.bank.agents.pop(self.number, None)


class PhoneBank:
    """Caller and agent phones against one Asterisk (see the module docstring)."""

    def __init__(self, sip_host: str = "127.0.0.1", sip_port: int = 5160, carrier_user: str = "carrier",
                 carrier_secret: str = "", agent_secret: str = "", log_dir: str | os.PathLike | None = None,
                 log_level: int = 3):
        self.sip_host = sip_host
        self.sip_port = int(sip_port)
        self.carrier_user = carrier_user
        self.carrier_secret = carrier_secret
        self.agent_secret = agent_secret
        self.log_dir = Path(log_dir) if log_dir else None
        self.log_level = log_level if log_dir else 0
        self.workers: list[_Worker] = []
        self.calls: dict[str, Call] = {}
        self.agents: dict[str, AgentPhone] = {}
        self._call_ids = itertools.count(1)
        self._stopping = False
        self._spawn_lock = asyncio.Lock()

    async def __aenter__(self) -> "PhoneBank":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start the first caller worker (the bank starts more on demand)."""
        if not self.workers:
            await self._spawn("callers")

    async def _spawn(self, role: str) -> _Worker:
        worker = _Worker(self, len(self.workers) + 1, role)
        init = {"sip_host": self.sip_host, "sip_port": self.sip_port, "carrier_user": self.carrier_user,
                "carrier_secret": self.carrier_secret, "agent_secret": self.agent_secret,
                "log_level": self.log_level, "carrier": role != "customers"}
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            init["log_path"] = str(self.log_dir / f"pjsua-{os.getpid()}-{worker.index}.log")
        self.workers.append(worker)
        try:
            await worker.start(init)
        except BaseException:
            self.workers.remove(worker)
            await worker.stop(timeout=2)
            raise
        return worker

    async def _worker_for(self, *, agent: bool) -> _Worker:
        role = "agents" if agent else "callers"
        async with self._spawn_lock:
            for w in self.workers:
                if w.dead is not None or w.role != role:
                    continue
                if agent and len(w.agents) >= AGENTS_PER_WORKER:
                    continue
                if not agent and len(w.active_calls) >= CALLS_PER_WORKER:
                    continue
                return w
            return await self._spawn(role)

    async def stop(self) -> None:
        """Hang up everything, unregister the agents, end the workers."""
        self._stopping = True
        try:
            await asyncio.gather(*(w.stop() for w in self.workers), return_exceptions=True)
        finally:
            self.workers.clear()
            self._stopping = False

    async def call(self, number: str = "100", caller_id: str = "+905321234567", digits: str = "",
                   digit_gap: float = 0.25, digits_after: float = 1.0, display: str = "") -> Call:
        """Place a call from `caller_id` ("" or "anonymous": withheld) to `number` on the carrier
        trunk. `digits` are pressed one at a time, `digits_after` seconds after audio flows."""
        worker = await self._worker_for(agent=False)
        key = f"c{next(self._call_ids)}"
        call = Call(self, worker, key, number, caller_id)
        self.calls[key] = call
        worker.active_calls.add(key)
        try:
            await worker.request("call", call=key, number=number, caller_id=caller_id or "", display=display)
        except BaseException:
            worker.active_calls.discard(key)
            self.calls.pop(key, None)
            raise
        if digits:
            call.digits_task = asyncio.ensure_future(call._send_later(digits, digits_after, digit_gap))
            call.digits_task.add_done_callback(_log_task_failure)
        return call

    async def register_agent(self, number: str, answer_after: float | None = 1.0,
                             wait: bool = True, timeout: float = 10.0, secret: str | None = None) -> AgentPhone:
        """Register agent phone `number` (1001..1020); incoming calls are answered after
        `answer_after` seconds (None: they ring until the caller gives up). `secret`
        overrides the bank's agent secret (to test a refused registration)."""
        if number in self.agents:
            raise PhoneError(f"agent {number} is already registered by this bank")
        worker = await self._worker_for(agent=True)
        agent = AgentPhone(self, worker, number, answer_after)
        self.agents[number] = agent
        worker.agents.add(number)
        try:
            params = {"secret": secret} if secret is not None else {}
            await worker.request("register", account=number, answer_after=answer_after, **params)
            if wait:
                await agent.wait_registered(timeout)
        except BaseException:
            worker.agents.discard(number)
            self.agents.pop(number, None)
            if worker.dead is None:
                with contextlib.suppress(Exception):  # stop its registration retries
                    await worker.request("forget", account=number)
            raise
        return agent

    async def register_customers(self, endpoint: str = "pstn", answer_after: float | None = 1.0,
                                 timeout: float = 10.0) -> AgentPhone:
        """A phone playing the customers an agent calls: registered as the outbound trunk's
        endpoint (`pstn` in telephony_conf/pjsip.conf, the carrier's secret), in a worker of its
        own, so it takes every INVITE whatever number it is for (`wait_ringing()["to"]` says
        which). Answers after `answer_after` seconds, like an agent phone."""
        if endpoint in self.agents:
            raise PhoneError(f"{endpoint} is already registered by this bank")
        async with self._spawn_lock:
            worker = await self._spawn("customers")
        phone = AgentPhone(self, worker, endpoint, answer_after)
        self.agents[endpoint] = phone
        worker.agents.add(endpoint)
        try:
            await worker.request("register", account=endpoint, answer_after=answer_after,
                                 secret=self.carrier_secret)
            await phone.wait_registered(timeout)
        except BaseException:
            worker.agents.discard(endpoint)
            self.agents.pop(endpoint, None)
            raise
        return phone

    # -- events from the workers -------------------------------------------------------------
    def _on_event(self, worker: _Worker, msg: dict) -> None:
        kind = msg["event"]
        if kind == "call_state":
            key = msg["call"]
            if msg["state"] == "disconnected":
                worker.active_calls.discard(key)
            call = self.calls.get(key)
            if call is not None:
                call._on_state(msg)
                if msg["state"] == "disconnected":
                    self.calls.pop(key, None)
                return
            agent = self.agents.get(msg.get("owner", ""))
            if agent is not None:
                agent._on_state(msg)
        elif kind == "media":
            call = self.calls.get(msg["call"])
            if call is not None:
                call.media_active = bool(msg.get("active"))
                call._changed()
        elif kind == "incoming":
            worker.active_calls.add(msg["call"])
            agent = self.agents.get(msg["account"])
            if agent is not None:
                agent._on_incoming(msg)
        elif kind == "reg_state":
            agent = self.agents.get(msg["account"])
            if agent is not None:
                agent._on_reg(msg)
        elif kind == "fatal":
            log.error("phone worker %d: %s", worker.index, msg.get("error"))

    def _worker_died(self, worker: _Worker, exc: PhoneWorkerError) -> None:
        for call in list(self.calls.values()):
            if call.worker is worker:
                call._fail(exc)
        for agent in list(self.agents.values()):
            if agent.worker is worker:
                agent._fail(exc)


def _log_task_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("sending DTMF failed: %s", task.exception())
