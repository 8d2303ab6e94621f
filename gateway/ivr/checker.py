"""`ctigw flows check`: what the loader cannot see in one node — the flow as a graph, the
sounds it plays, the skills it asks the ACD for.

Classes of problems, each reported as `file:line: node: message`:
  schema         anything the loader rejects (see loader.py)
  unreachable    a node no caller can get to from `start`
  dead end       a node that can leave the caller nowhere (no next, a branch without else)
  loop           nodes that only lead to each other, with no way to end the call
  prompt         a sound that is neither in Asterisk's sounds folder nor built from text
  text           a prompt with text missing one of the flow's languages
  skill          a route asking for a skill no agent in the roster has
  queue          a route (or a queue_wait_over) naming a queue the ACD does not have
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from gateway.ivr.loader import FlowError, FlowProblem, load_flow
from gateway.ivr.model import (BranchNode, CaseStatusNode, CollectNode, Flow, LanguageNode, Node, PlayNode,
                               ReturnNode, RouteNode, SubflowNode)
from gateway.yamlfile import YamlFileError, load_yaml

log = logging.getLogger(__name__)


@dataclass
class CheckReport:
    problems: list[FlowProblem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what could not be checked, and why
    flows: list[Flow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_files(paths, *, sounds_dirs=(), built_prompts_dir=None, known_skills: set[str] | None = None,
                known_queues: set[str] | None = None) -> CheckReport:
    """Load and check flow files. `sounds_dirs` empty: stock sounds are not checked (noted);
    `known_skills` / `known_queues` None: skills / queues are not checked (noted)."""
    report = CheckReport()
    loaded: dict[str, Flow] = {}
    for path in paths:
        try:
            flow = load_flow(path, loaded)
        except FlowError as exc:
            report.problems.extend(exc.problems)
            continue
        report.flows.append(flow)
    flows = _unique(f for top in report.flows for f in top.all_flows())
    texts = {sound for f in flows for sound in f.prompt_texts}
    sounds = SoundIndex([Path(d) for d in sounds_dirs])
    if not sounds_dirs:
        report.notes.append("no Asterisk sounds folder found (give --sounds): stock prompts not checked")
    if known_skills is None:
        report.notes.append("no agent roster found: skills not checked")
    if known_queues is None:
        report.notes.append("no queue configuration found: queue names not checked")
    built = Path(built_prompts_dir) if built_prompts_dir else None
    for flow in flows:
        report.problems.extend(graph_problems(flow))
        report.problems.extend(text_problems(flow))
        if sounds_dirs:
            report.problems.extend(prompt_problems(flow, texts, sounds, built))
        if known_skills is not None:
            report.problems.extend(skill_problems(flow, known_skills))
        if known_queues is not None:
            report.problems.extend(queue_problems(flow, known_queues))
    report.problems = sorted(set(report.problems), key=lambda p: (p.file, p.line, p.node, p.message))
    return report


def _unique(flows) -> list[Flow]:
    seen: dict[str, Flow] = {}
    for flow in flows:
        seen.setdefault(flow.path, flow)
    return list(seen.values())


# --- the flow as a graph ---------------------------------------------------------------------

def _falls_off(node: Node, flow: Flow) -> str | None:
    """Why the engine could leave this node with nowhere to go, or None."""
    if isinstance(node, (PlayNode, CollectNode, LanguageNode, CaseStatusNode)) and not node.next:
        return f"dead end: a {node.kind} node needs `next`"
    if isinstance(node, BranchNode) and not node.otherwise:
        return "dead end: a caller matching no case has nowhere to go (add `else`)"
    if isinstance(node, SubflowNode) and not node.next and _has_return(flow.subflows.get(node.flow)):
        return f"dead end: {node.flow} can return here, and there is no `next`"
    return None


def _has_return(flow: Flow | None) -> bool:
    return flow is not None and any(isinstance(n, ReturnNode) for n in flow.nodes.values())


def _ends_call(node: Node, flow: Flow) -> bool:
    """The call (or this sub-flow) can finish at this node."""
    if node.terminal:
        return True
    # A node that can fail with no on_failure anywhere hangs up politely.
    if node.can_fail and not getattr(node, "default", None) and flow.failure_target(node) is None:
        return True
    if isinstance(node, SubflowNode):
        sub = flow.subflows.get(node.flow)
        return sub is not None and any(n.terminal and not isinstance(n, ReturnNode) for n in sub.nodes.values())
    return False


def graph_problems(flow: Flow) -> list[FlowProblem]:
    problems = []
    edges = {nid: _targets(node, flow) for nid, node in flow.nodes.items()}
    reachable = _reach(flow.start, edges)
    for nid, node in flow.nodes.items():
        if nid not in reachable:
            problems.append(FlowProblem(flow.path, node.line, nid, f"unreachable: no path from start ({flow.start})"))
    fall_offs = {}
    for nid in reachable:
        why = _falls_off(flow.nodes[nid], flow)
        if why:
            fall_offs[nid] = why
            problems.append(FlowProblem(flow.path, flow.nodes[nid].line, nid, why))
    # Nodes from which the call can end: the ends themselves, and whatever leads to them.
    reverse: dict[str, list[str]] = {nid: [] for nid in flow.nodes}
    for src, targets in edges.items():
        for t in targets:
            reverse[t].append(src)
    ends = [nid for nid, node in flow.nodes.items() if _ends_call(node, flow) or nid in fall_offs]
    can_end: set[str] = set()
    for e in ends:
        can_end |= _reach(e, reverse)
    trapped = {nid for nid in reachable if nid not in can_end}
    for loop in _cycles(trapped, edges):
        first = min(loop, key=lambda n: flow.nodes[n].line)
        ring = " -> ".join(_ordered_ring(loop, first, edges) + [first])
        problems.append(FlowProblem(flow.path, flow.nodes[first].line, first,
                                    f"loop with no exit: {ring} (the caller can never get out)"))
    return problems


def reachable_routes(flow: Flow) -> list[RouteNode]:
    """Every route node a caller can get to from the flow's start, through the sub-flows it
    can enter too: the queues the flow can send callers to."""
    routes: list[RouteNode] = []
    pending, seen = [flow], set()
    while pending:
        current = pending.pop()
        if current.path in seen:
            continue
        seen.add(current.path)
        edges = {nid: _targets(node, current) for nid, node in current.nodes.items()}
        for nid in sorted(_reach(current.start, edges)):
            node = current.nodes[nid]
            if isinstance(node, RouteNode):
                routes.append(node)
            elif isinstance(node, SubflowNode) and node.flow in current.subflows:
                pending.append(current.subflows[node.flow])
    return routes


def _targets(node: Node, flow: Flow) -> list[str]:
    """Every node this one can lead to, the flow-wide on_failure included."""
    targets = [e.target for e in node.exits()]
    failure = flow.failure_target(node)
    if failure and failure not in targets:
        targets.append(failure)
    return [t for t in targets if t in flow.nodes]


def _reach(start: str, edges: dict[str, list[str]]) -> set[str]:
    seen, stack = {start}, [start]
    while stack:
        for nxt in edges.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _cycles(nodes: set[str], edges: dict[str, list[str]]) -> list[set[str]]:
    """Strongly connected groups within `nodes` that contain a cycle (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in nodes:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1 or v in edges.get(v, ()):
                groups.append(group)

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return groups


def _ordered_ring(group: set[str], first: str, edges) -> list[str]:
    """Walks the loop from `first` for a readable `a -> b -> a` message."""
    ring, current = [first], first
    while True:
        nxt = next((t for t in edges.get(current, ()) if t in group and t not in ring), None)
        if nxt is None:
            return ring
        ring.append(nxt)
        current = nxt


# --- prompts, texts, skills ----------------------------------------------------------------

class SoundIndex:
    """Answers "does Asterisk have this sound?" like Asterisk looks for it: in the language's
    folder, then without a language, then in `en`; any file extension (format).

    A sounds folder inside a chroot (the rig's .../usr/share/asterisk/sounds) has absolute
    symlinks (sounds/en -> /etc/alternatives/...) that mean something only inside the chroot;
    they are followed from the chroot's root."""

    def __init__(self, roots: list[Path]):
        self.roots = roots
        self._listing: dict[Path, set[str]] = {}

    def _stems(self, root: Path, folder: Path) -> set[str]:
        if folder not in self._listing:
            real = _resolve_in_chroot(folder, _chroot_of(root)) if _chroot_of(root) else folder
            try:
                self._listing[folder] = {name.split(".", 1)[0] for name in os.listdir(real)}
            except OSError:
                self._listing[folder] = set()
        return self._listing[folder]

    def exists(self, sound: str, languages) -> bool:
        folder, _, stem = sound.rpartition("/")
        for root in self.roots:
            for lang in (*languages, "", "en"):
                if stem in self._stems(root, root / lang / folder):
                    return True
        return False


_CHROOT_SOUNDS = ("usr", "share", "asterisk", "sounds")


def _chroot_of(sounds_root: Path) -> Path | None:
    parts = sounds_root.absolute().parts
    if len(parts) > len(_CHROOT_SOUNDS) + 1 and parts[-len(_CHROOT_SOUNDS):] == _CHROOT_SOUNDS:
        return Path(*parts[:-len(_CHROOT_SOUNDS)])
    return None


def _resolve_in_chroot(path: Path, root: Path) -> Path:
    """Follows symlinks under `root` the way a process chrooted there would."""
    try:
        pending = list(path.absolute().relative_to(root).parts)
    except ValueError:
        return path
    current, hops = root, 0
    while pending:
        candidate = current / pending.pop(0)
        if candidate.is_symlink() and hops < 40:
            hops += 1
            target = Path(os.readlink(candidate))
            if target.is_absolute():
                current, pending = root, [*target.parts[1:], *pending]
            else:
                pending = [*target.parts, *pending]
            continue
        current = candidate
    return current


def all_sounds(flow: Flow) -> list[tuple[str, Node]]:
    return [(sound, node) for node in flow.nodes.values() for sound in node.prompts()]


def prompt_problems(flow: Flow, texts: set[str], sounds: SoundIndex, built: Path | None) -> list[FlowProblem]:
    problems, reported = [], set()
    built_sounds = SoundIndex([built]) if built is not None else None
    for sound, node in all_sounds(flow):
        if sound in texts or (sound, node.id) in reported:
            continue
        if built_sounds is not None and built_sounds.exists(sound, flow.languages):
            continue
        if not sounds.exists(sound, flow.languages):
            reported.add((sound, node.id))
            problems.append(FlowProblem(flow.path, node.line, node.id,
                                        f"prompt {sound!r} is not in the sounds folder and has no text to build it from"))
    return problems


def text_problems(flow: Flow) -> list[FlowProblem]:
    problems = []
    for prompt in flow.prompt_texts.values():
        if prompt.neutral:
            continue
        missing = [lang for lang in flow.languages if lang not in prompt.texts]
        if missing:
            problems.append(FlowProblem(flow.path, prompt.line, "-",
                                        f"prompt {prompt.sound} has no text in {', '.join(missing)}"))
    return problems


def skill_problems(flow: Flow, known_skills: set[str]) -> list[FlowProblem]:
    problems = []
    for node in flow.nodes.values():
        if isinstance(node, RouteNode):
            for skill in node.skills:
                if skill not in known_skills:
                    problems.append(FlowProblem(flow.path, node.line, node.id,
                                                f"skill {skill!r}: no agent in the roster has it"))
    return problems


def queue_problems(flow: Flow, known_queues: set[str]) -> list[FlowProblem]:
    problems = []
    for node in flow.nodes.values():
        named = [node.queue] if isinstance(node, RouteNode) else []
        if isinstance(node, BranchNode):
            named += [c.queue_wait_over[0] for c, _ in node.cases if c.queue_wait_over]
        for queue in named:
            if queue not in known_queues:
                problems.append(FlowProblem(flow.path, node.line, node.id,
                                            f"queue {queue!r} is not in the ACD's queue configuration"))
    return problems


def acd_queues(path: str | os.PathLike) -> set[str] | None:
    """Queue names in the ACD's queues.yaml, or None when there is none to read."""
    try:
        doc = load_yaml(path)
    except YamlFileError as exc:
        log.debug("queue configuration %s not readable: %s", path, exc)
        return None
    queues = doc.get("queues") if isinstance(doc, dict) else None
    return {str(name) for name in queues} if isinstance(queues, dict) else None


def roster_skills(path: str | os.PathLike) -> set[str] | None:
    """Every skill some agent has, or None when there is no readable roster."""
    if not Path(path).is_file():
        return None
    from gateway.acd.errors import RosterError  # the ACD's file, read the ACD's way; imported late: optional
    from gateway.acd.roster import load_roster

    try:
        return set(load_roster(path).all_skills())
    except RosterError as exc:  # a broken roster is the ACD's problem to report; say so and go on
        log.warning("roster %s not readable: %s", path, exc)
        return None
