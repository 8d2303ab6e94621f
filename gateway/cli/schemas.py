"""`ctigw schemas`: write the JSON Schemas of the flow, roster and queue-policy files."""
from __future__ import annotations

import sys
from pathlib import Path

from gateway import schemas


def register(sub) -> None:
    p = sub.add_parser("schemas", help="write the JSON Schemas of the flow, roster and queue files (docs/schemas)")
    p.add_argument("--out", type=Path, default=schemas.DOCS_DIR, help="folder to write them to (default: %(default)s)")
    p.add_argument("--check", action="store_true", help="write nothing; fail if the folder's files are not current")
    p.set_defaults(func=write_schemas)


def write_schemas(args) -> int:
    if args.check:
        stale = [name for name, text in schemas.rendered().items()
                 if not (args.out / name).is_file() or (args.out / name).read_text(encoding="utf-8") != text]
        for name in stale:
            print(f"{args.out / name}: not what the models give; run `ctigw schemas`", file=sys.stderr)
        return 1 if stale else 0
    for path in schemas.write(args.out):
        print(path)
    return 0
