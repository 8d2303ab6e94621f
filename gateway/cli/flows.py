"""`ctigw flows check [FILES]` and `ctigw flows graph FLOW [-o out.svg]`."""
from __future__ import annotations

import sys
from pathlib import Path

from gateway.ivr.checker import acd_queues, check_files, roster_skills
from gateway.ivr.graph import GraphvizMissing, flow_to_dot, render
from gateway.ivr.loader import FLOW_SUFFIXES, FlowError, flow_file, load_flow

RIG_SOUNDS = "usr/share/asterisk/sounds"  # inside the rig's sid chroot
GRAPH_FORMATS = ("svg", "png", "pdf", "dot")


def register(sub) -> None:
    p = sub.add_parser("flows", help="IVR flows: check them, draw them")
    actions = p.add_subparsers(dest="flows_action", metavar="ACTION")
    p.set_defaults(func=lambda args: p.print_help() or 2)

    check = actions.add_parser("check", help="find schema errors, unreachable nodes, dead ends, loops, "
                                             "missing prompts, skills no agent has and unknown queues")
    check.add_argument("files", nargs="*", help="flow files (default: every flow in [ivr] flows_dir)")
    check.add_argument("--sounds", action="append", metavar="DIR",
                       help="Asterisk sounds folder (default: [ivr] sounds_dir, else the rig's); repeatable")
    check.add_argument("--prompts", metavar="DIR", help="built prompts folder (default: <state dir>/prompts)")
    check.add_argument("--roster", metavar="FILE", help="agent roster (default: [acd] roster)")
    check.add_argument("--queues", metavar="FILE", help="ACD queue configuration (default: queues.yaml beside the roster)")
    check.set_defaults(func=check_command)

    graph = actions.add_parser("graph", help="draw a flow with Graphviz")
    graph.add_argument("flow", help="a flow file, or a flow name in [ivr] flows_dir")
    graph.add_argument("-o", "--output", help="output file; its suffix picks the format "
                                              f"({', '.join(GRAPH_FORMATS)}); '-' for SVG on stdout "
                                              "(default: <flow>.svg)")
    graph.set_defaults(func=graph_command)


def default_sounds_dirs(settings) -> list[str]:
    if settings.ivr.sounds_dir:
        return [settings.ivr.sounds_dir]
    rig = Path(settings.rig.root) / RIG_SOUNDS
    return [str(rig)] if rig.is_dir() else []


def flow_paths(settings) -> list[str]:
    folder = Path(settings.ivr.flows_dir)
    return sorted(str(p) for p in folder.iterdir() if p.suffix in FLOW_SUFFIXES) if folder.is_dir() else []


def check_command(args) -> int:
    settings = args.settings
    files = args.files or flow_paths(settings)
    if not files:
        print(f"ctigw flows check: no flow files (looked in {settings.ivr.flows_dir})", file=sys.stderr)
        return 1
    sounds = args.sounds if args.sounds else default_sounds_dirs(settings)
    for folder in sounds:
        if not Path(folder).is_dir():
            print(f"ctigw flows check: sounds folder {folder} does not exist", file=sys.stderr)
            return 2
    roster = args.roster or settings.acd.roster
    report = check_files(
        files, sounds_dirs=sounds, built_prompts_dir=args.prompts or settings.state_dir / "prompts",
        known_skills=roster_skills(roster), known_queues=acd_queues(args.queues or Path(roster).with_name("queues.yaml")),
    )
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    for problem in report.problems:
        print(problem)
    checked = len({f.path for top in report.flows for f in top.all_flows()})
    if report.problems:
        print(f"{len(report.problems)} problem(s) in {len({p.file for p in report.problems})} file(s)", file=sys.stderr)
        return 1
    print(f"{checked} flow file(s) checked: no problems", file=sys.stderr)
    return 0


def graph_command(args) -> int:
    settings = args.settings
    path = Path(args.flow) if Path(args.flow).is_file() else flow_file(settings.ivr.flows_dir, args.flow)
    if path is None:
        print(f"ctigw flows graph: no flow file or flow named {args.flow!r}", file=sys.stderr)
        return 2
    try:
        flow = load_flow(path)
    except FlowError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    output = args.output or f"{flow.name}.svg"
    fmt = "svg" if output == "-" else Path(output).suffix.lstrip(".").lower()
    if fmt not in GRAPH_FORMATS:
        print(f"ctigw flows graph: cannot write .{fmt} (use {', '.join(GRAPH_FORMATS)})", file=sys.stderr)
        return 2
    dot_text = flow_to_dot(flow)
    try:
        data = dot_text.encode() if fmt == "dot" else render(dot_text, fmt)
    except GraphvizMissing as exc:
        print(f"ctigw flows graph: {exc}", file=sys.stderr)
        return 1
    if output == "-":
        sys.stdout.buffer.write(data)
    else:
        Path(output).write_bytes(data)
        print(f"wrote {output} ({len(flow.nodes)} nodes)", file=sys.stderr)
    return 0
