"""AMI event throughput: the gateway's AmiClient against the peer libraries, one stream, loopback.

    .venv/bin/python benchmarks/ami_parse.py [--events 200000] [--pyst2-events 5000] [--rounds 3]
    .venv/bin/python benchmarks/ami_parse.py --clients gateway,twisted-split --events 500000

A tiny fake AMI server (in this process, a thread per connection) sends the banner, answers
the client's login (plain Secret, or the MD5 Challenge dialogue), then writes a pre-generated
stream of Asterisk 22-shaped events (Newchannel, VarSet, Newexten, Newstate, DialBegin, DialEnd,
Hangup: Timestamp, the full channel block with Uniqueid and Linkedid, Dest* blocks) as fast as
the socket takes it. Each client runs in its own subprocess and delivers every event to one
subscriber that reads what a call tracker reads: the event name, Uniqueid and Linkedid (a
checksum of those proves every client read the same values). Events/s is measured inside the
client from its first event to its last, so start-up and login are not counted: by the wall
clock, and per second of the client process's own CPU time (steadier when other work shares
the machine; for the threaded peers it counts all their threads).

Clients:
  gateway           gateway.ami.AmiClient (Twisted on asyncio), MD5 login, subscriber on "*"
  gateway-name      the same, but the subscriber reads only the event name (shows what
                    the lazy field lookup saves on events nobody reads in full)
  twisted-split     the floor: a bare Twisted protocol that splits on \\r\\n\\r\\n and hands
                    each raw frame (bytes, unparsed; nothing to read) to the subscriber
  twisted-dict      the same plus what a ten-line Twisted AMI client does next: decode each
                    frame and split its lines into a dict, which the subscriber reads
  asterisk-ami      asterisk.ami.AMIClient (blocking socket + thread), defaults
  panoramisk        panoramisk.Manager (asyncio)
  pyst2             asterisk.manager.Manager (threads); far slower, so it gets a smaller
                    stream (--pyst2-events) and the table says so
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USER, SECRET = "bench", "bench-secret"
BANNER = b"Asterisk Call Manager/11.0.0\r\n"
CLIENTS = ["gateway", "gateway-name", "twisted-split", "twisted-dict", "asterisk-ami", "panoramisk", "pyst2"]
LABELS = {
    "gateway": "gateway AmiClient",
    "gateway-name": "gateway AmiClient, name only",
    "twisted-split": "bare Twisted split (floor)",
    "twisted-dict": "bare Twisted split + dict",
    "asterisk-ami": "asterisk-ami AMIClient",
    "panoramisk": "panoramisk Manager",
    "pyst2": "pyst2 Manager",
}
CLIENT_TIMEOUT = 180


# -- the stream -----------------------------------------------------------------------------

def _channel(prefix, name, state, desc, cid, cidname, conn, connname, context, exten, prio, uid, lid):
    p = prefix
    return (f"{p}Channel: {name}\r\n{p}ChannelState: {state}\r\n{p}ChannelStateDesc: {desc}\r\n"
            f"{p}CallerIDNum: {cid}\r\n{p}CallerIDName: {cidname}\r\n{p}ConnectedLineNum: {conn}\r\n"
            f"{p}ConnectedLineName: {connname}\r\n{p}Language: en\r\n{p}AccountCode: \r\n{p}Context: {context}\r\n"
            f"{p}Exten: {exten}\r\n{p}Priority: {prio}\r\n{p}Uniqueid: {uid}\r\n{p}Linkedid: {lid}\r\n")


def generate_stream(count: int) -> tuple[bytes, list[int]]:
    """`count` events of inbound calls answered by agents; returns the bytes and the offset
    where each event ends (so a shorter stream is a prefix)."""
    frames: list[bytes] = []
    clock = 1763893323.0
    call = 0
    while len(frames) < count:
        second = 1763893323 + call // 40
        uid, agent_uid = f"{second}.{2 * call}", f"{second}.{2 * call + 1}"
        caller_name, agent = f"PJSIP/trunk-{2 * call:08x}", f"PJSIP/{1001 + call % 500}-{2 * call + 1:08x}"
        cid = f"0532{call % 10_000_000:07d}"
        ext = str(1001 + call % 500)

        def event(name, privilege, body):
            nonlocal clock
            clock += 0.000417
            frames.append(f"Event: {name}\r\nPrivilege: {privilege}\r\nTimestamp: {clock:.6f}\r\n{body}\r\n".encode())

        def caller(state="6", desc="Up", context="from-trunk", exten="100", prio="1", prefix=""):
            return _channel(prefix, caller_name, state, desc, cid, "<unknown>", "<unknown>", "<unknown>",
                            context, exten, prio, uid, uid)

        def callee(state, desc, prefix=""):
            return _channel(prefix, agent, state, desc, ext, "Agent " + ext, cid, "<unknown>", "agents", "s", "1",
                            agent_uid, uid)

        event("Newchannel", "call,all", caller("4", "Ring"))
        event("VarSet", "dialplan,all", caller("4", "Ring") + "Variable: __CTIGW_DNIS\r\nValue: 100\r\n")
        event("Newexten", "dialplan,all", caller("4", "Ring") + "Extension: 100\r\nApplication: Answer\r\nAppData: \r\n")
        event("Newstate", "call,all", caller())
        event("Newexten", "dialplan,all", caller(prio="2") + "Extension: 100\r\nApplication: AGI\r\n"
                                                              "AppData: agi://127.0.0.1:4573/inbound\r\n")
        event("VarSet", "dialplan,all", caller(prio="2") + "Variable: AGISTATUS\r\nValue: SUCCESS\r\n")
        event("VarSet", "dialplan,all", caller(prio="3") + "Variable: CTIGW_RING_TIMEOUT\r\nValue: 20\r\n")
        event("Newchannel", "call,all", callee("0", "Down"))
        event("DialBegin", "call,all", caller("6", "Up", "ctigw-connect", ext) + callee("0", "Down", "Dest")
              + f"DialString: {ext}\r\n")
        event("DialEnd", "call,all", caller("6", "Up", "ctigw-connect", ext) + callee("6", "Up", "Dest")
              + "DialStatus: ANSWER\r\n")
        event("Hangup", "call,all", callee("6", "Up") + "Cause: 16\r\nCause-txt: Normal Clearing\r\n")
        event("Hangup", "call,all", caller("6", "Up", "ctigw-connect", ext) + "Cause: 16\r\nCause-txt: Normal Clearing\r\n")
        call += 1
    del frames[count:]
    offsets, total = [], 0
    for frame in frames:
        total += len(frame)
        offsets.append(total)
    return b"".join(frames), offsets


def expected_checksum(stream: bytes) -> int:
    return sum(len(m) for m in re.findall(rb"^(?:Uniqueid|Linkedid): (.*?)\r$", stream, re.M))


# -- the fake Asterisk --------------------------------------------------------------------

class FakeAmi:
    """Answers any login, then writes `stream` once to each connection."""

    def __init__(self, stream: bytes):
        self.stream = stream
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.sock.close()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket):
        with conn:
            conn.sendall(BANNER)
            buf = b""
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                *frames, buf = re.split(rb"\r?\n\r?\n", buf)
                for raw in frames:
                    fields = dict(line.split(": ", 1) for line in raw.decode().splitlines() if ": " in line)
                    action, action_id = fields.get("Action", "").lower(), fields.get("ActionID", "")
                    if action == "challenge":
                        conn.sendall(f"Response: Success\r\nActionID: {action_id}\r\nChallenge: 318264402\r\n\r\n".encode())
                    elif action == "login":
                        conn.sendall(f"Response: Success\r\nActionID: {action_id}\r\n"
                                     f"Message: Authentication accepted\r\n\r\n".encode())
                        try:
                            conn.sendall(self.stream)
                        except OSError:
                            return
                    elif action:
                        conn.sendall(f"Response: Success\r\nActionID: {action_id}\r\n\r\n".encode())


# -- the clients, each run in a subprocess --------------------------------------------------

class Tally:
    """Counts events, times first to last, and signals when all have arrived."""

    def __init__(self, expected: int, on_done):
        self.expected = expected
        self.count = 0
        self.checksum = 0
        self.first = self.last = 0.0
        self.first_cpu = self.last_cpu = 0.0
        self._on_done = on_done

    def tick(self):
        self.count += 1
        if self.count == 1:
            self.first, self.first_cpu = time.perf_counter(), time.process_time()
        if self.count == self.expected:
            self.last, self.last_cpu = time.perf_counter(), time.process_time()
            self._on_done()

    def report(self, name: str):
        seconds, cpu = self.last - self.first, self.last_cpu - self.first_cpu
        print(json.dumps({"client": name, "events": self.count, "seconds": seconds, "checksum": self.checksum,
                          "rate": (self.count - 1) / seconds if seconds > 0 else 0.0,
                          "cpu_rate": (self.count - 1) / cpu if cpu > 0 else 0.0}), flush=True)
        os._exit(0)  # the peers' threads and loops have no clean shutdown worth waiting for


def run_gateway(port: int, expected: int, name_only: bool) -> None:
    from gateway.loop import install_reactor
    loop = install_reactor()
    from twisted.internet import reactor

    from gateway.ami import AmiClient

    tally = Tally(expected, loop.stop)
    client = AmiClient("127.0.0.1", port, USER, SECRET, auth="md5", reactor=reactor)
    if name_only:
        def on_event(msg):
            msg.event
            tally.tick()
    else:
        def on_event(msg):
            msg.event
            tally.checksum += len(msg["Uniqueid"]) + len(msg["Linkedid"])
            tally.tick()
    client.on("*", on_event)
    client.start()
    loop.run_forever()
    tally.report("gateway-name" if name_only else "gateway")


def run_twisted_split(port: int, expected: int, as_dict: bool) -> None:
    from gateway.loop import install_reactor
    loop = install_reactor()
    from twisted.internet import protocol, reactor

    tally = Tally(expected, loop.stop)

    def on_frame(frame: bytes):
        tally.tick()

    def on_fields(fields: dict):
        fields["Event"]
        tally.checksum += len(fields["Uniqueid"]) + len(fields["Linkedid"])
        tally.tick()

    def parse_then_deliver(frame: bytes):
        fields = {}
        for line in frame.decode("utf-8", "replace").split("\r\n"):
            key, sep, value = line.partition(": ")
            if sep:
                fields[key] = value
        on_fields(fields)

    subscriber = parse_then_deliver if as_dict else on_frame

    class Split(protocol.Protocol):
        buf = b""
        banner = False

        def connectionMade(self):
            self.transport.write(f"Action: Login\r\nActionID: 1\r\nUsername: {USER}\r\nSecret: {SECRET}\r\n\r\n".encode())

        def dataReceived(self, data):
            buf = self.buf + data
            if not self.banner:
                if b"\r\n" not in buf:
                    self.buf = buf
                    return
                buf = buf.split(b"\r\n", 1)[1]
                self.banner = True
            frames = buf.split(b"\r\n\r\n")
            self.buf = frames.pop()
            for frame in frames:
                if frame.startswith(b"Event: "):
                    subscriber(frame)

    protocol.ClientCreator(reactor, Split).connectTCP("127.0.0.1", port)
    loop.run_forever()
    tally.report("twisted-dict" if as_dict else "twisted-split")


def run_panoramisk(port: int, expected: int) -> None:
    import asyncio

    from panoramisk import Manager

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    tally = Tally(expected, loop.stop)

    def on_event(manager, event):
        event.event
        tally.checksum += len(event["Uniqueid"]) + len(event["Linkedid"])
        tally.tick()

    manager = Manager(loop=loop, host="127.0.0.1", port=port, username=USER, secret=SECRET,
                      ping_delay=3600, ping_interval=3600)
    manager.register_event("*", on_event)
    manager.connect()
    loop.run_forever()
    tally.report("panoramisk")


def run_asterisk_ami(port: int, expected: int) -> None:
    from asterisk.ami import AMIClient

    done = threading.Event()
    tally = Tally(expected, done.set)

    def on_event(event, source):
        event.name
        tally.checksum += len(event.keys["Uniqueid"]) + len(event.keys["Linkedid"])
        tally.tick()

    client = AMIClient(address="127.0.0.1", port=port, timeout=30)
    client.add_event_listener(on_event)
    client.login(username=USER, secret=SECRET)
    done.wait(CLIENT_TIMEOUT)
    tally.report("asterisk-ami")


def run_pyst2(port: int, expected: int) -> None:
    from asterisk.manager import Manager

    done = threading.Event()
    tally = Tally(expected, done.set)

    def on_event(event, manager):
        event.name
        tally.checksum += len(event.headers["Uniqueid"]) + len(event.headers["Linkedid"])
        tally.tick()

    manager = Manager()
    manager.register_event("*", on_event)
    manager.connect("127.0.0.1", port)
    manager.login(USER, SECRET)
    done.wait(CLIENT_TIMEOUT)
    tally.report("pyst2")


def run_client(name: str, port: int, expected: int) -> None:
    if name in ("gateway", "gateway-name"):
        run_gateway(port, expected, name_only=name == "gateway-name")
    elif name in ("twisted-split", "twisted-dict"):
        run_twisted_split(port, expected, as_dict=name == "twisted-dict")
    elif name == "panoramisk":
        run_panoramisk(port, expected)
    elif name == "asterisk-ami":
        run_asterisk_ami(port, expected)
    elif name == "pyst2":
        run_pyst2(port, expected)
    else:
        raise SystemExit(f"unknown client {name!r}")


# -- the parent: serve, spawn, tabulate ----------------------------------------------------

def measure(name: str, stream: bytes, expected: int) -> dict:
    server = FakeAmi(stream)
    try:
        proc = subprocess.run([sys.executable, __file__, "--run-client", name, "--port", str(server.port),
                               "--events", str(expected)], capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"client": name, "error": f"no result within {CLIENT_TIMEOUT}s"}
    finally:
        server.close()
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        return {"client": name, "error": (proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1]}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="events per client (default 200000)")
    parser.add_argument("--pyst2-events", type=int, default=5_000,
                        help="events for pyst2, which manages ~1-2k events/s (default 5000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per client; medians are reported")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="comma-separated, from: " + ", ".join(CLIENTS))
    parser.add_argument("--run-client", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_client:
        run_client(args.run_client, args.port, args.events)
        return

    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    for name in clients:
        if name not in CLIENTS:
            parser.error(f"unknown client {name!r}")
    counts = {name: (min(args.pyst2_events, args.events) if name == "pyst2" else args.events) for name in clients}
    started = time.perf_counter()
    stream, offsets = generate_stream(max(counts.values()))
    print(f"stream: {len(offsets):,} events, {len(stream) / len(offsets):.0f} bytes/event on average "
          f"(generated in {time.perf_counter() - started:.1f}s); {args.rounds} round(s) per client, medians shown\n")

    results = {}
    for name in clients:
        count = counts[name]
        part = stream[:offsets[count - 1]]
        checksum = expected_checksum(part)
        runs = []
        for _ in range(args.rounds):
            result = measure(name, part, count)
            if "error" in result:
                runs = result
                break
            if result["checksum"] != checksum and name not in ("twisted-split", "gateway-name"):
                runs = {"error": f"read wrong field values (checksum {result['checksum']} != {checksum})"}
                break
            runs.append(result)
        results[name] = runs
        shown = runs["error"] if isinstance(runs, dict) else f"{median(runs, 'rate'):,.0f} events/s"
        print(f"  {LABELS[name]:<30} {shown}", file=sys.stderr, flush=True)

    base = results.get("gateway")
    base_wall = median(base, "rate") if isinstance(base, list) else None
    base_cpu = median(base, "cpu_rate") if isinstance(base, list) else None
    print(f"{'client':<31}{'events':>9}{'events/s':>11}{'gw/peer':>9}{'events/cpu-s':>14}{'gw/peer':>9}")
    for name in clients:
        runs = results[name]
        if isinstance(runs, dict):
            print(f"{LABELS[name]:<31}{counts[name]:>9,}  FAILED: {runs['error']}")
            continue
        wall, cpu = median(runs, "rate"), median(runs, "cpu_rate")
        ratio_wall = f"{base_wall / wall:.2f}" if base_wall else "-"
        ratio_cpu = f"{base_cpu / cpu:.2f}" if base_cpu else "-"
        note = (f"  (smaller stream, --pyst2-events: too slow for {args.events:,})"
                if name == "pyst2" and counts[name] < args.events else "")
        print(f"{LABELS[name]:<31}{counts[name]:>9,}{wall:>11,.0f}{ratio_wall:>9}{cpu:>14,.0f}{ratio_cpu:>9}{note}")
    print("\nevents/s: wall clock, first event to last; events/cpu-s: per second of the client process's CPU.\n"
          "Subscriber reads the event name, Uniqueid and Linkedid (floor: the raw frame, nothing parsed; "
          f"name only: the event name). Total {time.perf_counter() - started:.0f}s.")


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


if __name__ == "__main__":
    main()
