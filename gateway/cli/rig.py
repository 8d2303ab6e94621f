"""`ctigw rig ...`: the local Asterisk 22 (a Debian sid chroot) for the trial and the tests.

    ctigw rig provision            build the chroot (once; ~30 s; needs root and the network)
    ctigw rig start [--instance trial]   run Asterisk in the foreground until Ctrl-C
    ctigw rig status               provisioned? running? ports, registered phones, channels
    ctigw rig stop                 stop a running instance (also one started elsewhere)
    ctigw rig cli 'pjsip show contacts'  one Asterisk CLI command
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time


def register(sub) -> None:
    parser = sub.add_parser("rig", help="the local Asterisk 22 (Debian sid chroot) for trying out and tests",
                            formatter_class=argparse.RawDescriptionHelpFormatter,
                            description=__doc__.split("\n\n", 1)[1] if __doc__ else None)
    rig_sub = parser.add_subparsers(dest="rig_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: (parser.print_help(), 2)[1])

    p = rig_sub.add_parser("provision", help="build the Asterisk chroot if it is not complete")
    p.add_argument("--root", help="chroot directory (default: [rig] root)")
    p.add_argument("--force", action="store_true", help="re-run the package installation even if complete")
    p.set_defaults(func=cmd_provision)

    for name, func, helptext in (("start", cmd_start, "run Asterisk in the foreground until Ctrl-C"),
                                 ("status", cmd_status, "show whether the rig is provisioned and running"),
                                 ("stop", cmd_stop, "stop a running instance")):
        p = rig_sub.add_parser(name, help=helptext)
        p.add_argument("--instance", default="trial", help="instance name (default: trial)")
        if name == "start":
            p.add_argument("--sip-port", type=int, help="SIP UDP port (default: [rig] sip_port)")
            p.add_argument("--ami-port", type=int, help="AMI TCP port (default: [rig] ami_port)")
            p.add_argument("--agi-port", type=int, help="the gateway's FastAGI port (default: [agi] port)")
            p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for Asterisk to be ready")
        if name == "status":
            p.add_argument("--json", action="store_true", help="machine-readable output")
        p.set_defaults(func=func)

    p = rig_sub.add_parser("cli", help="run one Asterisk CLI command (asterisk -rx)")
    p.add_argument("--instance", default="trial")
    p.add_argument("command", nargs="+", help="e.g. 'pjsip show contacts'")
    p.set_defaults(func=cmd_cli)


def _rig(args, **overrides):
    from gateway.rig.asterisk import rig_from_settings

    return rig_from_settings(args.settings, instance=args.instance, **overrides)


def cmd_provision(args) -> int:
    from gateway.rig.provision import ProvisionError, provision

    root = args.root or args.settings.rig.root
    started = time.monotonic()
    # SIGTERM unwinds like Ctrl-C, so the debootstrap/apt step in progress is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        version = provision(root, force=args.force, progress=lambda line: print(line, flush=True))
    except ProvisionError as exc:
        print(f"ctigw rig provision: {exc}", file=sys.stderr)
        return 1
    print(f"{version} ready in {root} ({time.monotonic() - started:.1f}s)")
    return 0


def cmd_start(args) -> int:
    from gateway.rig.asterisk import RigError

    overrides = {k: v for k, v in (("sip_port", args.sip_port), ("ami_port", args.ami_port),
                                   ("agi_port", args.agi_port)) if v}
    rig = _rig(args, **overrides)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    started = time.monotonic()
    try:
        try:
            rig.start(timeout=args.timeout)
        except RigError as exc:
            print(f"ctigw rig start: {exc}", file=sys.stderr)
            return 1
        d = rig.describe()
        print(f"Asterisk instance {rig.instance!r} ready in {time.monotonic() - started:.2f}s (pid {d['pid']})")
        for key in ("sip", "ami", "agi", "rtp", "config", "log"):
            print(f"  {key:7} {d[key]}")
        number = args.settings.rig.inbound_number
        print(f"\nPlace a test call:  ctigw call {number} --caller-id +905321234567 --digits 1,2")
        print("Stop with Ctrl-C.", flush=True)
        while not stop.is_set():
            if not rig.is_running:
                code = rig.process.poll() if rig.process else None
                if code == 0:
                    print("Asterisk stopped (`ctigw rig stop` or `core stop`)")
                    return 0
                print(f"Asterisk exited with status {code}; see {rig.messages_log} and {rig.output_log}",
                      file=sys.stderr)
                return 1
            stop.wait(0.5)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        if rig.is_running:
            print("stopping Asterisk ...", flush=True)
            rig.stop()


def cmd_status(args) -> int:
    from gateway.rig.asterisk import RigError
    from gateway.rig.provision import provisioned_info

    rig = _rig(args)
    info = provisioned_info(rig.root)
    status = rig.describe()
    status["provisioned"] = bool(info)
    status["asterisk_version"] = (info or {}).get("asterisk_version")
    if status["running"]:
        try:
            status["uptime"] = rig.cli("core show uptime seconds").strip()
            status["channels"] = rig.cli("core show channels count").strip()
            contacts = rig.cli("pjsip show contacts")
            status["contacts"] = [line.split()[1] for line in contacts.splitlines()
                                  if line.strip().startswith("Contact:") and "<" not in line]
        except RigError as exc:
            status["error"] = str(exc)
    if args.json:
        print(json.dumps(status, indent=2))
        return 0 if status["running"] else 3
    print(f"chroot      {rig.root}: " + (f"provisioned ({status['asterisk_version']})" if info
                                         else "NOT provisioned (run `ctigw rig provision`)"))
    if not status["running"]:
        print(f"instance    {rig.instance}: not running")
        return 3
    print(f"instance    {rig.instance}: running, pid {status['pid']}")
    for key in ("sip", "ami", "agi", "rtp", "config", "log"):
        print(f"  {key:9} {status[key]}")
    for key in ("uptime", "channels", "error"):
        if status.get(key):
            print(f"  {key:9} " + status[key].replace("\n", "\n            "))
    print(f"  phones    {', '.join(status.get('contacts') or []) or 'none registered'}")
    return 0


def cmd_stop(args) -> int:
    rig = _rig(args)
    pid = rig.running_pid()
    if pid is None:
        print(f"Asterisk instance {args.instance!r} is not running")
        return 0
    rig.stop()
    print(f"Asterisk instance {args.instance!r} (pid {pid}) stopped")
    return 0


def cmd_cli(args) -> int:
    from gateway.rig.asterisk import RigError

    rig = _rig(args)
    try:
        print(rig.cli(" ".join(args.command)), end="")
    except RigError as exc:
        print(f"ctigw rig cli: {exc}", file=sys.stderr)
        return 1
    return 0
