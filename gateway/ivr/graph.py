"""A flow as a picture: Graphviz DOT text, rendered by Debian's `dot` (package graphviz).

Node shapes say what a node does (menu, collect, branch, ...); endings are filled; edges are
labelled with the key pressed or the condition, and failure edges are dashed.
"""
from __future__ import annotations

import shutil
import subprocess

from gateway.ivr.model import (CallbackNode, CaseStatusNode, CollectNode, Flow, HoursNode, Node, RouteNode,
                               SubflowNode, VoicemailNode)

SHAPES = {
    "play": ("note", None),
    "menu": ("diamond", None),
    "collect": ("parallelogram", None),
    "branch": ("hexagon", None),
    "hours": ("octagon", None),
    "language": ("trapezium", None),
    "case_status": ("cylinder", None),
    "subflow": ("component", None),
    "return": ("invhouse", "#e0e0e0"),
    "route": ("box", "#c8e6c9"),
    "voicemail": ("tab", "#fff3c4"),
    "callback": ("cds", "#fff3c4"),
    "hangup": ("Msquare", "#ffcdd2"),
}


class GraphvizMissing(RuntimeError):
    pass


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _detail(node: Node) -> str:
    if isinstance(node, RouteNode):
        return f"queue {node.queue}\nskills {', '.join(node.skills)}\npriority {node.priority}"
    if isinstance(node, CollectNode):
        lengths = f"{node.min_length}" if node.min_length == node.max_length else f"{node.min_length}-{node.max_length}"
        extra = [f"{lengths} digits"]
        extra += ["sensitive"] if node.sensitive else []
        extra += [f"check {node.check}"] if node.check else []
        return "\n".join(extra)
    if isinstance(node, SubflowNode):
        return f"sub-flow {node.flow}"
    if isinstance(node, HoursNode):
        return f"schedule {node.schedule}"
    if isinstance(node, VoicemailNode):
        return f"VoiceMail {node.mailbox}" if node.mailbox else "Record"
    if isinstance(node, CallbackNode):
        return f"{node.accept}: this number" + (f"\n{node.other_number}: other number" if node.other_number else "")
    if isinstance(node, CaseStatusNode):
        return "CRM case status"
    return ""


def flow_to_dot(flow: Flow) -> str:
    lines = [
        f"digraph {_quote(flow.name)} {{",
        "  rankdir=TB; nodesep=0.3; ranksep=0.45;",
        '  node [fontname="Helvetica", fontsize=10, style="filled", fillcolor="white"];',
        '  edge [fontname="Helvetica", fontsize=9];',
        '  "__start__" [shape=circle, label="", width=0.18, fillcolor="black"];',
        f'  "__start__" -> {_quote(flow.start)};',
    ]
    for node in flow.nodes.values():
        shape, fill = SHAPES.get(node.kind, ("box", None))
        detail = _detail(node)
        label = f"{node.id}\n({node.kind})" + (f"\n{detail}" if detail else "")
        attrs = [f"shape={shape}", f"label={_quote(label)}"]
        if fill:
            attrs.append(f'fillcolor="{fill}"')
        lines.append(f"  {_quote(node.id)} [{', '.join(attrs)}];")
    for node in flow.nodes.values():
        for exit_ in node.exits():
            style = ", style=dashed" if exit_.is_failure else ""
            lines.append(f"  {_quote(node.id)} -> {_quote(exit_.target)} [label={_quote(exit_.label)}{style}];")
        # Nodes without their own on_failure fall back to the flow's: draw that too.
        if flow.failure_target(node) and not getattr(node, "on_failure", None):
            lines.append(f"  {_quote(node.id)} -> {_quote(flow.on_failure)} "
                         f"[label=\"failure (flow default)\", style=dashed, color=gray40];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def render(dot_text: str, fmt: str = "svg") -> bytes:
    """Runs Graphviz `dot`; raises GraphvizMissing when it is not installed."""
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizMissing("Graphviz `dot` not found: install the Debian package graphviz")
    done = subprocess.run([exe, f"-T{fmt}"], input=dot_text.encode(), capture_output=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout
