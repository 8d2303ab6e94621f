"""The local Asterisk 22 the trial and the end-to-end tests run against.

`provision()` builds a Debian sid chroot with Debian's Asterisk (see gateway/rig/provision.py).
`AsteriskRig` renders `telephony_conf/*.conf` into `ROOT/srv/ctigw/<instance>/etc/`,
replacing `@@NAME@@` placeholders (the dialplan's own `${...}` is left alone), and runs

    chroot ROOT asterisk -C /srv/ctigw/<instance>/etc/asterisk.conf -f

as a child process. Every instance has its own etc/run/log/lib/spool/cache directories and
its own ports, so the trial (SIP 5060, AMI 5038, AGI 4573) and the tests run side by side.
"""
from __future__ import annotations

import asyncio
import errno
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.rig.provision import (  # noqa: F401  (re-exported: gateway.rig.asterisk.provision)
    CHROOT_ENV,
    DEFAULT_ROOT,
    ProvisionError,
    is_provisioned,
    provision,
    provisioned_info,
)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TELEPHONY_CONF = PROJECT_ROOT / "telephony_conf"
SOUNDS_DIR = "usr/share/asterisk/sounds"  # in the chroot
PLACEHOLDER_RE = re.compile(r"@@([A-Z0-9_]+)@@")
# Values end up in Asterisk config files, where ';' starts a comment and whitespace or a
# newline would break the line: secrets and names are restricted to a safe alphabet.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9._~+=/:-]+$")
_INSTANCE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


VOICEMAIL_DIR_IN_CHROOT = "/var/spool/asterisk/ctigw-voicemail"


class RigError(RuntimeError):
    """The rig cannot do what was asked; the message says why (and shows Asterisk's log tail)."""


def render_config(values: dict[str, str | int], conf_dir: str | os.PathLike = TELEPHONY_CONF) -> dict[str, str]:
    """Every `*.conf` of `conf_dir` with its `@@NAME@@` placeholders replaced from `values`.

    Raises RigError if a file uses a placeholder that `values` lacks, or a value is unsafe
    to put in an Asterisk config file.
    """
    values = {k: str(v) for k, v in values.items()}
    for key, value in values.items():
        if not _SAFE_VALUE.match(value):
            raise RigError(f"rig setting {key}={value!r}: only letters, digits and ._~+=/:- are allowed "
                           f"(';' would start a comment in Asterisk's config)")
    rendered: dict[str, str] = {}
    files = sorted(Path(conf_dir).glob("*.conf"))
    if not files:
        raise RigError(f"no *.conf files in {conf_dir}")
    for path in files:
        text = path.read_text()
        missing = sorted({m for m in PLACEHOLDER_RE.findall(text) if m not in values})
        if missing:
            raise RigError(f"{path.name}: no value for placeholder(s) {', '.join('@@%s@@' % m for m in missing)}")
        rendered[path.name] = PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], text)
    return rendered


def modules_to_load(modules_conf: str) -> list[str]:
    """The `load =>` module names of a rendered modules.conf."""
    names = []
    for line in modules_conf.splitlines():
        line = line.split(";", 1)[0].strip()
        if line.startswith("load") and "=>" in line:
            names.append(line.split("=>", 1)[1].strip())
    return names


def resolve_in_chroot(root: str | os.PathLike, path: str) -> Path:
    """Host path of chroot path `path`, following symlinks as the chroot sees them.

    Debian's /usr/share/asterisk/sounds/en is an absolute symlink (via /etc/alternatives) that
    must resolve inside the chroot, not on the host.
    """
    root = Path(root)
    parts = [p for p in path.split("/") if p]
    current: list[str] = []
    hops = 0
    while parts:
        part = parts.pop(0)
        if part == ".":
            continue
        if part == "..":
            if current:
                current.pop()
            continue
        host = root.joinpath(*current, part)
        if host.is_symlink():
            hops += 1
            if hops > 40:
                raise RigError(f"too many symlinks resolving {path} in {root}")
            target = os.readlink(host)
            if target.startswith("/"):
                current = []
            parts = [p for p in target.split("/") if p] + parts
            continue
        current.append(part)
    return root.joinpath(*current)


@dataclass
class AmiCheck:
    banner: str
    response: str


def ami_login(host: str, port: int, username: str, secret: str, timeout: float = 3.0) -> AmiCheck:
    """Log in to AMI over a plain socket and log off; raises OSError/RigError on failure."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        reader = sock.makefile("rb")
        banner = reader.readline().decode(errors="replace").strip()
        if not banner.startswith("Asterisk Call Manager"):
            raise RigError(f"AMI on {host}:{port} sent {banner!r} instead of its banner")
        sock.sendall(f"Action: Login\r\nActionID: rig-ready\r\nUsername: {username}\r\n"
                     f"Secret: {secret}\r\nEvents: off\r\n\r\n".encode())
        frame: dict[str, str] = {}
        while True:
            line = reader.readline()
            if not line:
                raise RigError(f"AMI on {host}:{port} closed the connection during login")
            line = line.decode(errors="replace").rstrip("\r\n")
            if not line:
                if frame.get("ActionID") == "rig-ready":
                    break
                frame = {}
                continue
            key, _, value = line.partition(":")
            frame[key.strip()] = value.strip()
        if frame.get("Response") != "Success":
            raise RigError(f"AMI login as {username!r} on {host}:{port} failed: {frame.get('Message', frame)}")
        try:
            sock.sendall(b"Action: Logoff\r\n\r\n")
        except OSError:
            pass
        return AmiCheck(banner=banner, response=frame.get("Message", ""))


def _port_in_use(port: int, kind: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 16384))
            return "\n".join(fh.read().decode(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


class AsteriskRig:
    """One Asterisk instance in the provisioned chroot.

    Secrets not given are generated (and readable as attributes, for the phones and the
    gateway). `start()` renders the configuration, starts Asterisk and waits until it is
    fully booted and AMI accepts the login.
    """

    def __init__(self, root: str | os.PathLike = DEFAULT_ROOT, instance: str = "test", *,
                 sip_port: int = 5160, ami_port: int = 5138,
                 agi_host: str = "127.0.0.1", agi_port: int = 4673,
                 ami_username: str = "ctigw", ami_secret: str | None = None,
                 carrier_secret: str | None = None, agent_secret: str | None = None,
                 rtp_start: int = 11000, rtp_end: int = 11999,
                 prompts_dir: str | os.PathLike | None = None,
                 conf_dir: str | os.PathLike = TELEPHONY_CONF,
                 clear_state: bool = True):
        if not _INSTANCE_RE.match(instance):
            raise RigError(f"instance name {instance!r}: use lower-case letters, digits, - and _")
        if not (0 < rtp_start < rtp_end < 65536):
            raise RigError(f"RTP range {rtp_start}-{rtp_end} is not a port range")
        self.root = Path(root)
        self.instance = instance
        self.sip_port = int(sip_port)
        self.ami_port = int(ami_port)
        self.agi_host = agi_host
        self.agi_port = int(agi_port)
        self.ami_host = "127.0.0.1"
        self.ami_username = ami_username
        self.ami_secret = ami_secret or secrets.token_urlsafe(18)
        self.carrier_secret = carrier_secret or secrets.token_urlsafe(12)
        self.agent_secret = agent_secret or secrets.token_urlsafe(12)
        self.rtp_start = int(rtp_start)
        self.rtp_end = int(rtp_end)
        self.prompts_dir = Path(prompts_dir) if prompts_dir else None
        self.conf_dir = Path(conf_dir)
        self.clear_state = clear_state
        self.process: subprocess.Popen | None = None
        self._out = None
        # Paths as Asterisk sees them (inside the chroot) and as the host sees them.
        self.base_in_chroot = f"/srv/ctigw/{instance}"
        self.asterisk_conf_in_chroot = f"{self.base_in_chroot}/etc/asterisk.conf"
        self.base = self.root / "srv" / "ctigw" / instance
        self.etc_dir = self.base / "etc"
        self.log_dir = self.base / "log"
        self.run_dir = self.base / "run"
        self.lib_dir = self.base / "lib"
        self.spool_dir = self.base / "spool"
        self.cache_dir = self.base / "cache"
        self.output_log = self.log_dir / "asterisk.out"
        self.messages_log = self.log_dir / "messages.log"
        self.pid_file = self.run_dir / "asterisk.pid"
        # Where the example IVR flow's voicemail node records (Record does not create folders).
        self.voicemail_dir = self.root / VOICEMAIL_DIR_IN_CHROOT.lstrip("/")

    # ------------------------------------------------------------------ configuration
    def placeholder_values(self) -> dict[str, str | int]:
        return {
            "INSTANCE": self.instance,
            "ASTMODDIR": self._module_dir(),
            "SIP_PORT": self.sip_port,
            "AMI_PORT": self.ami_port,
            "AMI_USERNAME": self.ami_username,
            "AMI_SECRET": self.ami_secret,
            "AGI_HOST": self.agi_host,
            "AGI_PORT": self.agi_port,
            "RTP_START": self.rtp_start,
            "RTP_END": self.rtp_end,
            "CARRIER_SECRET": self.carrier_secret,
            "AGENT_SECRET": self.agent_secret,
        }

    def _module_dir(self) -> str:
        found = sorted(self.root.glob("usr/lib/*/asterisk/modules"))
        if not found:
            return "/usr/lib/asterisk/modules"  # rendering without a chroot (unit tests)
        return "/" + str(found[0].relative_to(self.root))

    def render(self) -> dict[str, str]:
        return render_config(self.placeholder_values(), self.conf_dir)

    def write_config(self) -> list[Path]:
        """Render the configuration into the instance's etc dir; returns the files written."""
        rendered = self.render()
        for d in (self.etc_dir, self.log_dir, self.run_dir, self.lib_dir, self.spool_dir, self.cache_dir,
                  self.voicemail_dir):
            d.mkdir(parents=True, exist_ok=True)
        for stale in self.etc_dir.glob("*.conf"):
            if stale.name not in rendered:
                stale.unlink()
        written = []
        for name, text in rendered.items():
            path = self.etc_dir / name
            tmp = path.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.chmod(0o600)  # manager.conf and pjsip.conf hold secrets
            tmp.replace(path)
            written.append(path)
        if self.prompts_dir:
            self.install_prompts(self.prompts_dir)
        return written

    def install_prompts(self, prompts_dir: str | os.PathLike) -> int:
        """Copy `prompts_dir/<lang>/...` into the chroot's sounds/<lang>/...; returns files copied."""
        prompts_dir = Path(prompts_dir)
        if not prompts_dir.is_dir():
            return 0
        copied = 0
        for lang_dir in sorted(p for p in prompts_dir.iterdir() if p.is_dir()):
            target = resolve_in_chroot(self.root, f"/{SOUNDS_DIR}/{lang_dir.name}")
            for src in sorted(lang_dir.rglob("*")):
                if not src.is_file():
                    continue
                dst = target / src.relative_to(lang_dir)
                st = src.stat()
                try:
                    dt = dst.stat()
                    if dt.st_size == st.st_size and int(dt.st_mtime) == int(st.st_mtime):
                        continue
                except FileNotFoundError:
                    pass
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
                copied += 1
        return copied

    # ------------------------------------------------------------------ process control
    def _asterisk(self, *args: str) -> list[str]:
        return ["chroot", str(self.root), "asterisk", "-C", self.asterisk_conf_in_chroot, *args]

    def running_pid(self) -> int | None:
        """Pid of this instance's Asterisk if it runs (ours or left over by an earlier run)."""
        if self.process is not None and self.process.poll() is None:
            return self.process.pid
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        if cmdline and cmdline[0].endswith(b"asterisk") and self.asterisk_conf_in_chroot.encode() in cmdline:
            return pid
        return None

    @property
    def is_running(self) -> bool:
        return self.running_pid() is not None

    def start(self, timeout: float = 30.0, *, replace: bool = False, keep_state: bool = False) -> None:
        """Render the config, start Asterisk, wait until it is ready.

        `replace`: stop this instance first if an earlier run left it running (else that is
        an error). `keep_state`: keep astdb (registered phones) even with clear_state.
        """
        if not is_provisioned(self.root):
            raise RigError(f"no provisioned Asterisk chroot at {self.root}: run `ctigw rig provision`")
        pid = self.running_pid()
        if pid is not None:
            if not replace:
                raise RigError(f"Asterisk instance {self.instance!r} is already running (pid {pid})")
            self.stop()
        for port, kind, what in ((self.ami_port, socket.SOCK_STREAM, "AMI (TCP)"),
                                 (self.sip_port, socket.SOCK_DGRAM, "SIP (UDP)")):
            if _port_in_use(port, kind):
                raise RigError(f"{what} port {port} on 127.0.0.1 is in use by another program")
        self.write_config()
        if self.clear_state and not keep_state:
            # Registrations of phones from an earlier run live in astdb; start clean.
            for name in ("astdb.sqlite3", "astdb.sqlite3-journal"):
                (self.lib_dir / name).unlink(missing_ok=True)
        self.pid_file.unlink(missing_ok=True)
        self._out = open(self.output_log, "ab")
        self._out.write(f"\n===== ctigw rig: starting instance {self.instance} at {time.ctime()} =====\n".encode())
        self._out.flush()
        self.process = subprocess.Popen(
            self._asterisk("-f"), stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.STDOUT,
            env=CHROOT_ENV, start_new_session=True)  # Ctrl-C in a terminal must not hit it directly
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Until Asterisk is fully booted and AMI accepts our login; returns seconds waited."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        booted = False
        last_error = "not started"
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RigError(f"Asterisk exited with status {self.process.returncode} while starting; "
                               f"{self.output_log}:\n{_tail(self.output_log)}\n"
                               f"{self.messages_log}:\n{_tail(self.messages_log)}")
            try:
                if not booted:
                    out = self.cli("core waitfullybooted", timeout=max(0.5, deadline - time.monotonic()))
                    booted = "fully booted" in out.lower()
                    last_error = f"core waitfullybooted said {out.strip()!r}"
                if booted:
                    ami_login(self.ami_host, self.ami_port, self.ami_username, self.ami_secret, timeout=2.0)
                    self._check_modules()
                    return time.monotonic() - t0
            except (OSError, RigError, subprocess.TimeoutExpired) as exc:
                last_error = str(exc)
            time.sleep(0.05)
        raise RigError(f"Asterisk instance {self.instance!r} not ready after {timeout:.0f}s ({last_error}); "
                       f"{self.messages_log}:\n{_tail(self.messages_log)}")

    def _check_modules(self) -> None:
        wanted = modules_to_load((self.etc_dir / "modules.conf").read_text())
        out = self.cli("module show")
        # Lines look like "res_agi.so   Asterisk Gateway Interface (AGI)   0   Running   core".
        running = {line.split()[0] for line in out.splitlines()
                   if line.split() and line.split()[0].endswith(".so") and " Running " in line}
        missing = [m for m in wanted if m not in running]
        if missing:
            raise RigError(f"modules.conf lists modules Asterisk did not load: {', '.join(missing)}; "
                           f"{self.messages_log}:\n{_tail(self.messages_log)}")

    def cli(self, command: str, timeout: float = 10.0) -> str:
        """Run one CLI command (`asterisk -rx`) and return its output."""
        proc = subprocess.run(self._asterisk("-rx", command), stdin=subprocess.DEVNULL, capture_output=True,
                              env=CHROOT_ENV, timeout=timeout)
        out = proc.stdout.decode(errors="replace")
        if proc.returncode != 0 or "Unable to connect to remote asterisk" in out:
            raise RigError(f"`asterisk -rx {command!r}` failed ({proc.returncode}): "
                           f"{(out + proc.stderr.decode(errors='replace')).strip()}")
        return out

    async def acli(self, command: str, timeout: float = 10.0) -> str:
        """`cli()` for asyncio code: does not block the event loop."""
        proc = await asyncio.create_subprocess_exec(
            *self._asterisk("-rx", command), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=CHROOT_ENV)
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise RigError(f"`asterisk -rx {command!r}` timed out after {timeout}s") from None
        text = out.decode(errors="replace")
        if proc.returncode != 0 or "Unable to connect to remote asterisk" in text:
            raise RigError(f"`asterisk -rx {command!r}` failed ({proc.returncode}): "
                           f"{(text + err.decode(errors='replace')).strip()}")
        return text

    def stop(self, timeout: float = 10.0) -> None:
        """`core stop now`, then SIGTERM, then SIGKILL; also stops one left over by an earlier run."""
        pid = self.running_pid()
        if pid is not None:
            try:
                self.cli("core stop now", timeout=min(5.0, timeout))
            except (RigError, subprocess.TimeoutExpired):
                pass
            if not self._wait_exit(pid, timeout / 2):
                self._signal(pid, signal.SIGTERM)
                if not self._wait_exit(pid, timeout / 2):
                    self._signal(pid, signal.SIGKILL)
                    self._wait_exit(pid, 5.0)
        if self.process is not None:
            try:
                self.process.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self._out is not None:
            self._out.close()
            self._out = None

    def restart(self, timeout: float = 30.0) -> None:
        """Stop and start again, like a real Asterisk restart: registered phones (astdb) stay."""
        self.stop()
        self.start(timeout, keep_state=True)

    def _wait_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.pid == pid:
                if self.process.poll() is not None:
                    return True
            elif not Path(f"/proc/{pid}").exists() or _is_zombie(pid):
                return True
            time.sleep(0.05)
        return False

    @staticmethod
    def _signal(pid: int, sig: int) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def describe(self) -> dict:
        """Where this instance listens (for status output and for starting the gateway against it)."""
        return {
            "instance": self.instance,
            "root": str(self.root),
            "running": self.is_running,
            "pid": self.running_pid(),
            "sip": f"udp:127.0.0.1:{self.sip_port}",
            "ami": f"127.0.0.1:{self.ami_port} (user {self.ami_username})",
            "agi": f"agi://{self.agi_host}:{self.agi_port}/",
            "rtp": f"{self.rtp_start}-{self.rtp_end}",
            "config": str(self.etc_dir),
            "log": str(self.messages_log),
        }

    def __enter__(self) -> "AsteriskRig":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


# ---------------------------------------------------------------------- the trial instance
TRIAL_INSTANCE = "trial"
TRIAL_RTP = (10000, 10999)


def rig_secrets(state_dir: str | os.PathLike, instance: str = TRIAL_INSTANCE, *, create: bool = True) -> dict[str, str]:
    """The generated secrets of a long-lived rig instance (the trial), kept in
    `<state_dir>/rig-<instance>.secrets.json` (mode 600) so the gateway, `ctigw call` and a
    restarted Asterisk agree on them."""
    import json

    path = Path(state_dir) / f"rig-{instance}.secrets.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    wanted = ("ami_secret", "carrier_secret", "agent_secret")
    if all(data.get(k) for k in wanted) or not create:
        return data
    for key in wanted:
        data.setdefault(key, secrets.token_urlsafe(18))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as fh:
        json.dump(data, fh, indent=2)
    tmp.replace(path)
    return data


def rig_from_settings(settings, instance: str = TRIAL_INSTANCE, **overrides) -> AsteriskRig:
    """The rig instance the configuration describes: [rig] root and ports, [ami] username
    (and secret, if set; else the generated one), [agi] port, prompts from <state_dir>/prompts."""
    generated = rig_secrets(settings.state_dir, instance)
    agi_host = settings.agi.bind if settings.agi.bind not in ("", "0.0.0.0", "::") else "127.0.0.1"
    kwargs = dict(
        root=settings.rig.root, instance=instance,
        sip_port=settings.rig.sip_port, ami_port=settings.rig.ami_port,
        agi_host=agi_host, agi_port=settings.agi.port,
        ami_username=settings.ami.username, ami_secret=settings.ami.secret or generated["ami_secret"],
        carrier_secret=generated["carrier_secret"], agent_secret=generated["agent_secret"],
        rtp_start=TRIAL_RTP[0], rtp_end=TRIAL_RTP[1],
        prompts_dir=settings.state_dir / "prompts",
        clear_state=True,
    )
    kwargs.update(overrides)
    return AsteriskRig(**kwargs)
