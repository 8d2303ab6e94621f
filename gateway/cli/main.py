"""`ctigw`: the gateway's command line.

Each concern adds its own sub-commands from a module beside this one (crm.py, flows.py,
rig.py, ...), each exposing `register(subparsers)`; a sub-command sets `func(args) -> int`.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from gateway.config import ConfigError, load_settings
from gateway.logs import setup_logging

# Sub-command modules, in the order --help lists them. A module missing here is a bug.
COMMAND_MODULES = ["init", "run", "config_cmd", "crm", "flows", "prompts", "rig", "call", "acd", "api_token",
                   "schemas", "users"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctigw", description="Contact-centre CTI/IVR gateway for Asterisk.")
    parser.add_argument("-c", "--config", help="TOML configuration file (default: $CTIGW_CONFIG, else built-in defaults)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"gateway.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"gateway.cli.{name}":
                raise
            continue  # that concern has no commands yet
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"ctigw: configuration error: {exc}", file=sys.stderr)
        return 2
    level = "DEBUG" if args.verbose else settings.gateway.log_level
    setup_logging(level, settings.gateway.log_format, secrets=(settings.ami.secret, settings.http.token_secret))
    args.settings = settings
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except ConfigError as exc:
        print(f"ctigw: configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception:
        logging.getLogger("ctigw").exception("command failed")
        return 1


if __name__ == "__main__":
    sys.exit(main())
