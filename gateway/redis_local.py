"""A private redis-server for the trial setup: a child process on a Unix socket.

Production points [redis] url at the site's Redis; the trial gets a real Redis too, so
there is one state code path. No TCP port is opened (port 0), so nothing collides.
"""
from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path

log = logging.getLogger(__name__)


def _die_with_parent() -> None:
    """In the child: SIGTERM when the gateway dies, however it dies (Linux prctl)."""
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class LocalRedis:
    def __init__(self, state_dir: Path):
        self.dir = Path(state_dir) / "redis"
        self.socket = self.dir / "redis.sock"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 10.0) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (scripts/setup installs it), and [redis] url is empty")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", str(self.socket), "--unixsocketperm", "700",
             "--dir", str(self.dir), "--save", "", "--appendonly", "no",
             "--logfile", str(self.dir / "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Its own session: Ctrl-C in the trial's terminal reaches only the gateway, which
            # stops this Redis last (it dies with the gateway all the same).
            preexec_fn=_die_with_parent, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}; see {self.dir / 'redis.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not open its socket in time")
            time.sleep(0.05)
        log.info("private redis-server started on %s", self.socket)
        return self.url

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None
