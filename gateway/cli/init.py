"""`ctigw init DIR`: a starting set for a gateway installed from its wheel.

Writes DIR/gateway.toml (the documented example configuration, naming the folders below by
absolute path, so the gateway runs the same from any working directory, systemd included),
DIR/ivr_flows/ (the example IVR flows), DIR/agents/ (the example roster and queues) and an
empty DIR/var/ for the state. Edit them, then `ctigw -c DIR/gateway.toml check-config`.
"""
from __future__ import annotations

import sys
from importlib.resources import as_file, files
from pathlib import Path

import tomlkit

# What is copied from the package's starting set (gateway/starter) into DIR.
STARTER_FOLDERS = ("ivr_flows", "agents")
CONFIG_NAME = "gateway.toml"


def register(sub) -> None:
    p = sub.add_parser("init", help="write a starting configuration, IVR flows and agent roster into a folder")
    p.add_argument("dir", help="the folder to write into (created if missing), e.g. /etc/ctigw")
    p.add_argument("--state-dir", help="where the gateway keeps its state (default: DIR/var), e.g. /var/lib/ctigw")
    p.add_argument("--force", action="store_true", help="overwrite files that are already there")
    p.set_defaults(func=init_command)


def init_command(args) -> int:
    target = Path(args.dir).resolve()
    state_dir = Path(args.state_dir).resolve() if args.state_dir else target / "var"
    with as_file(files("gateway.starter")) as starter:
        copies = [(source, target / source.relative_to(starter))
                  for folder in STARTER_FOLDERS for source in sorted((starter / folder).iterdir())
                  if source.is_file()]
        config_text = starter_config((starter / "gateway.example.toml").read_text(encoding="utf-8"),
                                     target, state_dir)
    config_path = target / CONFIG_NAME
    existing = [p for p in [config_path, *(dest for _, dest in copies)] if p.exists()]
    if existing and not args.force:
        print(f"ctigw init: {len(existing)} file(s) already there, e.g. {existing[0]} "
              f"(--force overwrites them)", file=sys.stderr)
        return 1
    for source, dest in copies:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(source.read_bytes())
    config_path.write_text(config_text, encoding="utf-8")
    state_dir.mkdir(parents=True, exist_ok=True)
    print(f"""wrote {config_path}, {target / 'ivr_flows'}/, {target / 'agents'}/; state in {state_dir}

Next:
  set [redis] url (or CTIGW_REDIS_URL), [ami] host and CTIGW_AMI_SECRET, [crm] url for PostgreSQL
  ctigw -c {config_path} check-config
  ctigw -c {config_path} flows check
  ctigw -c {config_path} acd check
  ctigw -c {config_path} run""")
    return 0


def starter_config(example: str, target: Path, state_dir: Path) -> str:
    """The example configuration with the folders `init` wrote filled in, comments kept."""
    doc = tomlkit.parse(example)
    _table(doc, "gateway")["state_dir"] = str(state_dir)
    _table(doc, "ivr")["flows_dir"] = str(target / "ivr_flows")
    _table(doc, "acd")["roster"] = str(target / "agents" / "roster.yaml")
    return f"# Written by `ctigw init {target}`.\n" + tomlkit.dumps(doc)


def _table(doc, name: str):
    if name not in doc:
        doc[name] = tomlkit.table()
    return doc[name]
