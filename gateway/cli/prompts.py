"""`ctigw prompts build [--out DIR] [FILES]`: synthesise the flows' text prompts."""
from __future__ import annotations

import sys
from pathlib import Path

from gateway.cli.flows import flow_paths
from gateway.ivr import prompts
from gateway.ivr.loader import FlowError, load_flow


def register(sub) -> None:
    p = sub.add_parser("prompts", help="IVR prompts written as text in the flows")
    actions = p.add_subparsers(dest="prompts_action", metavar="ACTION")
    p.set_defaults(func=lambda args: p.print_help() or 2)
    build = actions.add_parser("build", help="speak them with espeak-ng, convert with sox to 8 kHz mono WAV")
    build.add_argument("files", nargs="*", help="flow files (default: every flow in [ivr] flows_dir)")
    build.add_argument("--out", help="output folder, laid out <lang>/ctigw/<name>.wav (default: <state dir>/prompts)")
    build.add_argument("--force", action="store_true", help="rebuild unchanged prompts too")
    build.set_defaults(func=build_command)


def build_command(args) -> int:
    files = args.files or flow_paths(args.settings)
    out = Path(args.out) if args.out else args.settings.state_dir / "prompts"
    flows, loaded, failed = [], {}, False
    for path in files:
        try:
            flows.extend(load_flow(path, loaded).all_flows())
        except FlowError as exc:
            failed = True
            for problem in exc.problems:
                print(problem, file=sys.stderr)
    unique = list({f.path: f for f in flows}.values())
    jobs, conflicts = prompts.jobs_for(unique)
    for conflict in conflicts:
        print(f"warning: {conflict}", file=sys.stderr)
    print(f"{len(jobs)} prompt file(s) from {len(unique)} flow(s) -> {out}")
    try:
        summary = prompts.build(jobs, out, force=args.force, progress=lambda line: print(line, flush=True))
    except prompts.ToolMissing as exc:
        print(f"ctigw prompts build: {exc}", file=sys.stderr)
        return 1
    print(f"built {len(summary.built)}, unchanged {len(summary.unchanged)}, failed {len(summary.failed)}")
    return 1 if failed or summary.failed else 0
