"""Provisioning of the local Asterisk 22: a minimal Debian sid chroot with Debian's packages.

Debian ships Asterisk only in sid, so the rig builds a sid chroot with debootstrap and runs
`apt-get install asterisk` inside it. Nothing in the chroot is mounted (Asterisk runs without
/proc there); it shares the host's loopback, so Asterisk's AMI/SIP ports and the gateway's
FastAGI port meet on 127.0.0.1.

Idempotent and restartable:
- debootstrap runs into `ROOT.partial`, renamed to ROOT only when it completed, so a killed
  debootstrap is simply redone;
- the apt steps inside the chroot are repeatable (`dpkg --configure -a` first mends an
  interrupted install);
- the marker file `ROOT/.ctigw-provisioned` (JSON, with the installed version) is written last;
  without it the apt steps run again.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

DEFAULT_ROOT = "/var/cache/ctigw/asterisk-sid"
SUITE = "sid"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("asterisk", "asterisk-core-sounds-en", "asterisk-moh-opsound-gsm")
MARKER_NAME = ".ctigw-provisioned"
DEBOOTSTRAP_DONE = ".ctigw-debootstrap-done"
# The environment every command inside the chroot gets (the host's may point at a venv).
CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LC_ALL": "C",
    "DEBIAN_FRONTEND": "noninteractive",
}
# The mirror's sid Release file is past its Valid-Until date; apt refuses it without this.
APT_OPTS = ("-o", "Acquire::Check-Valid-Until=false")

Progress = Callable[[str], None]


class ProvisionError(RuntimeError):
    """Provisioning failed; the message says which step and carries the tail of its output."""


def _default_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def marker_path(root: str | os.PathLike) -> Path:
    return Path(root) / MARKER_NAME


def provisioned_info(root: str | os.PathLike = DEFAULT_ROOT) -> dict | None:
    """The marker's content if ROOT is a complete provision, else None."""
    root = Path(root)
    try:
        info = json.loads(marker_path(root).read_text())
    except (OSError, ValueError):
        return None
    if not (root / "usr/sbin/asterisk").exists():
        return None
    return info


def is_provisioned(root: str | os.PathLike = DEFAULT_ROOT) -> bool:
    return provisioned_info(root) is not None


class _Steps:
    """Runs the provisioning commands with one progress line per step and a log file."""

    def __init__(self, log_path: Path, progress: Progress):
        self.log_path = log_path
        self.progress = progress
        self.t0 = time.monotonic()

    def say(self, message: str) -> None:
        self.progress(f"[{time.monotonic() - self.t0:6.1f}s] {message}")

    def run(self, title: str, argv: list[str], env: dict | None = None) -> str:
        self.say(title)
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            log.write(f"\n### {title}\n### $ {' '.join(argv)}\n".encode())
            log.flush()
            # Its own process group, so an interrupted provision takes debootstrap/apt (and
            # their children) down with it instead of leaving them writing into the chroot.
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, env=env, start_new_session=True)
            try:
                output, _ = proc.communicate()
            except BaseException:
                _kill_group(proc)
                raise
            log.write(output)
        out = output.decode(errors="replace")
        if proc.returncode != 0:
            tail = "\n".join(out.splitlines()[-25:])
            raise ProvisionError(
                f"{title}: `{' '.join(argv)}` exited with {proc.returncode} "
                f"(full output in {self.log_path}):\n{tail}")
        self.say(f"  done in {time.monotonic() - started:.1f}s")
        return out


def _kill_group(proc: subprocess.Popen) -> None:
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def provision(root: str | os.PathLike = DEFAULT_ROOT, *, mirror: str = MIRROR,
              progress: Progress | None = None, force: bool = False) -> str:
    """Build the Asterisk chroot at ROOT unless it is complete already; returns the version.

    Needs root (debootstrap, chroot) and network access to the Debian mirror.
    """
    root = Path(root)
    progress = progress or _default_progress
    if os.geteuid() != 0:
        raise ProvisionError("provisioning the Asterisk chroot needs root (debootstrap and chroot)")
    root.parent.mkdir(parents=True, exist_ok=True)
    with _locked(root.parent / f"{root.name}.lock"):
        info = provisioned_info(root)
        if info and not force:
            progress(f"Asterisk chroot {root} is provisioned ({info.get('asterisk_version', '?')})")
            return info.get("asterisk_version", "")
        steps = _Steps(root.parent / f"{root.name}.provision.log", progress)
        steps.say(f"provisioning Asterisk in a Debian {SUITE} chroot at {root} (log: {steps.log_path})")
        _ensure_debootstrap(steps)
        if not (root / DEBOOTSTRAP_DONE).exists():
            _debootstrap(steps, root, mirror)
        _forbid_service_starts(root)
        chroot = ["chroot", str(root)]
        steps.run("finishing any interrupted package configuration",
                  chroot + ["dpkg", "--configure", "-a"], env=CHROOT_ENV)
        steps.run("apt-get update inside the chroot",
                  chroot + ["apt-get", *APT_OPTS, "-q", "update"], env=CHROOT_ENV)
        steps.run(f"installing {' '.join(PACKAGES)}",
                  chroot + ["apt-get", *APT_OPTS, "-q", "-y", "--no-install-recommends", "install", *PACKAGES],
                  env=CHROOT_ENV)
        steps.run("cleaning apt's download cache", chroot + ["apt-get", "clean"], env=CHROOT_ENV)
        version = steps.run("checking the installed Asterisk", chroot + ["asterisk", "-V"], env=CHROOT_ENV).strip()
        packages = steps.run(
            "recording package versions",
            chroot + ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *PACKAGES], env=CHROOT_ENV)
        moh = sorted(p.name for p in (root / "usr/share/asterisk/moh").glob("*.gsm"))
        if not moh:
            raise ProvisionError("asterisk-moh-opsound-gsm installed no .gsm files in /usr/share/asterisk/moh")
        marker = {
            "asterisk_version": version,
            "packages": dict(line.split(" ", 1) for line in packages.splitlines() if " " in line),
            "suite": SUITE,
            "mirror": mirror,
            "provisioned_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        tmp = marker_path(root).with_suffix(".tmp")
        tmp.write_text(json.dumps(marker, indent=2) + "\n")
        tmp.replace(marker_path(root))
        steps.say(f"Asterisk chroot ready: {version}")
        return version


@contextlib.contextmanager
def _locked(path: Path):
    """One provisioning at a time (the trial and a test run may both ask for it)."""
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _ensure_debootstrap(steps: _Steps) -> None:
    if shutil.which("debootstrap") or Path("/usr/sbin/debootstrap").exists():
        return
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    steps.run("apt-get update on the host (to install debootstrap)", ["apt-get", "-q", "update"], env=env)
    steps.run("installing debootstrap on the host",
              ["apt-get", "-q", "-y", "--no-install-recommends", "install", "debootstrap"], env=env)


def _debootstrap(steps: _Steps, root: Path, mirror: str) -> None:
    if root.exists():
        # ROOT is renamed into place only after a complete debootstrap, which leaves the
        # DEBOOTSTRAP_DONE file; anything else there is not ours to delete.
        if any(root.iterdir()):
            raise ProvisionError(
                f"{root} exists but was not made by `ctigw rig provision`; "
                f"remove it or set [rig] root to another directory")
        root.rmdir()
    partial = root.with_name(root.name + ".partial")
    if partial.exists():
        steps.say(f"removing the half-done {partial} of an earlier run")
        shutil.rmtree(partial)
    debootstrap = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    steps.run(f"debootstrap --variant=minbase {SUITE} (a minimal Debian {SUITE})",
              [debootstrap, "--variant=minbase", SUITE, str(partial), mirror],
              env=dict(os.environ, LC_ALL="C"))
    (partial / DEBOOTSTRAP_DONE).write_text(f"{SUITE} {mirror}\n")
    partial.rename(root)


def _forbid_service_starts(root: Path) -> None:
    """Package scripts must not start an Asterisk service inside the chroot (Debian's policy-rc.d)."""
    policy = root / "usr/sbin/policy-rc.d"
    if not policy.exists():
        policy.write_text("#!/bin/sh\n# ctigw: the rig starts Asterisk itself; packages never start services here.\nexit 101\n")
        policy.chmod(0o755)


def main(argv: list[str] | None = None) -> int:
    """`python -m gateway.rig.provision [--root DIR] [--force]` (scripts/provision-asterisk)."""
    import argparse

    parser = argparse.ArgumentParser(prog="provision-asterisk", description="Build the rig's Asterisk chroot.")
    parser.add_argument("--root", default=os.environ.get("CTIGW_RIG_ROOT", DEFAULT_ROOT),
                        help=f"chroot directory (default: $CTIGW_RIG_ROOT or {DEFAULT_ROOT})")
    parser.add_argument("--mirror", default=MIRROR, help=f"Debian mirror (default: {MIRROR})")
    parser.add_argument("--force", action="store_true", help="re-run the package installation")
    args = parser.parse_args(argv)
    # SIGTERM (CI timeouts) unwinds like Ctrl-C, so the step in progress is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        provision(args.root, mirror=args.mirror, force=args.force)
    except ProvisionError as exc:
        print(f"provision-asterisk: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
