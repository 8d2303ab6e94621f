"""End-to-end fixtures: a real Asterisk 22 (the rig's sid chroot) and pjsua2 phones.

- `asterisk` (session): provisions the chroot if needed, starts an Asterisk instance on test
  ports with a random AMI secret, yields the `AsteriskRig`, stops it at the end. Everything a
  test needs to start the gateway against it is on the rig: `ami_host`, `ami_port`,
  `ami_username`, `ami_secret`, `agi_host`, `agi_port` (where Asterisk expects the gateway's
  FastAGI server), `sip_port`, `carrier_secret`, `agent_secret`. `rig_settings` is a gateway
  `Settings` pointing at it.
- `phones` (per test): a started `PhoneBank` against that Asterisk, stopped afterwards; then
  any channel still up in Asterisk is hung up, so tests do not leak calls into each other.
- `ami_probe` (per test): a logged-in raw AMI reader (gateway.rig.ami_probe) that records events.

The instance is "test" on SIP 5160 / AMI 5138 / AGI 4673 / RTP 11000-11999. Another test
session may be using it right now (several people share a machine): then this session takes
the next free slot ("test1" on 5161/5139/4674/RTP 12000-12999, ...); a session holds its
slot's lock file for its lifetime. An instance left behind by a session that died is replaced.

Tests and async fixtures run on the suite's one loop (tests/conftest.py). The `e2e` marker
comes from there too.
"""
from __future__ import annotations

import errno
import fcntl
import os
import secrets
import socket

import pytest

from gateway.rig.ami_probe import AmiProbe
from gateway.rig.asterisk import AsteriskRig, RigError
from gateway.rig.phones import PhoneBank
from gateway.rig.provision import DEFAULT_ROOT, is_provisioned, provision

ROOT = os.environ.get("CTIGW_RIG_ROOT", DEFAULT_ROOT)
SLOTS = 10  # instance "test", "test1", ... "test9"


def _free(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _claim_slot():
    """The first rig slot no live test session holds; returns (rig, lock file kept open).

    A session holds its slot's lock file (flock) for its whole life, so a slot whose lock is
    free belongs to nobody, even if a dead session left its Asterisk running."""
    secret = secrets.token_urlsafe(18)
    for n in range(SLOTS):
        rig = AsteriskRig(
            ROOT, instance="test" if n == 0 else f"test{n}",
            sip_port=5160 + n, ami_port=5138 + n, agi_host="127.0.0.1", agi_port=4673 + n,
            ami_username="ctigw", ami_secret=secret,
            rtp_start=11000 + 1000 * n, rtp_end=11999 + 1000 * n)
        rig.base.parent.mkdir(parents=True, exist_ok=True)
        lock = open(rig.base.parent / f"{rig.instance}.session.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            continue  # another live session uses this slot
        if rig.is_running:
            rig.stop()  # left behind by a session that died
        if (_free(rig.sip_port, socket.SOCK_DGRAM) and _free(rig.ami_port, socket.SOCK_STREAM)
                and _free(rig.agi_port, socket.SOCK_STREAM)):
            return rig, lock
        lock.close()  # something else listens on these ports
    raise RigError(f"no free rig slot: instances test..test{SLOTS - 1} are all in use")


@pytest.fixture(scope="session")
def asterisk():
    """The session's Asterisk 22 (see the module docstring)."""
    if not is_provisioned(ROOT):
        provision(ROOT)  # ~30 s the first time; raises with the failing step's output
    rig, lock = _claim_slot()
    try:
        rig.start(timeout=60)
        yield rig
    finally:
        rig.stop()
        lock.close()


@pytest.fixture
def rig_settings(asterisk, tmp_path):
    """Gateway settings pointing at the session's Asterisk (AMI, FastAGI port, rig ports)."""
    from gateway.config import Settings

    s = Settings()
    s.gateway.state_dir = str(tmp_path / "state")
    s.ami.host, s.ami.port = asterisk.ami_host, asterisk.ami_port
    s.ami.username, s.ami.secret = asterisk.ami_username, asterisk.ami_secret
    s.agi.bind, s.agi.port = asterisk.agi_host, asterisk.agi_port
    s.rig.root, s.rig.sip_port, s.rig.ami_port = str(asterisk.root), asterisk.sip_port, asterisk.ami_port
    return s


@pytest.fixture
async def phones(asterisk, tmp_path):
    """A PhoneBank (pjsua2 callers and agent phones) against the session's Asterisk."""
    bank = PhoneBank(sip_host="127.0.0.1", sip_port=asterisk.sip_port, carrier_user="carrier",
                     carrier_secret=asterisk.carrier_secret, agent_secret=asterisk.agent_secret,
                     log_dir=tmp_path / "pjsua")
    await bank.start()
    try:
        yield bank
    finally:
        await bank.stop()
        # Isolation: no channel of this test (e.g. of a crashed phone worker, whose callers
        # Asterisk would keep in the fallback queue and offer to the next test's agents)
        # survives into the next test.
        if "0 active channels" not in asterisk.cli("core show channels count"):
            asterisk.cli("channel request hangup all")


@pytest.fixture
async def ami_probe(asterisk):
    """A logged-in raw AMI connection that records every event (gateway.rig.ami_probe)."""
    probe = AmiProbe(asterisk.ami_host, asterisk.ami_port, asterisk.ami_username, asterisk.ami_secret)
    await probe.connect()
    try:
        yield probe
    finally:
        await probe.close()
