"""`ctigw check-config`: load the configuration and print the effective settings."""
from __future__ import annotations

import json

from gateway.config import describe


def register(sub) -> None:
    p = sub.add_parser("check-config", help="validate the configuration and print the effective settings (secrets hidden)")
    p.set_defaults(func=check_config)


def check_config(args) -> int:
    print(json.dumps(describe(args.settings), indent=2, ensure_ascii=False))
    print("configuration OK")
    return 0
