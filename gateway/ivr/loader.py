"""Flow files (YAML) to `Flow` objects, with every schema problem named by file, line and node.

A flow file looks like this (see ivr_flows/main.yaml for a whole one):

    flow: main                  # optional, defaults to the file name
    start: welcome
    languages: [tr, en]         # the first one is the default language
    max_steps: 200              # loop protection: steps per call
    on_failure: agent_general   # where nodes go when retries run out (default: hang up)
    defaults: {timeout: 5, retries: 2, invalid_prompt: ctigw/invalid, no_input_prompt: ctigw/no_input}
    schedules:
      office:
        timezone: Europe/Istanbul
        weekly: {mon-fri: "09:00-18:00", sat-sun: closed}
        holidays: [2026-01-01]
    prompts:                    # text `ctigw prompts build` turns into ctigw/<name>.wav per language
      ctigw/welcome: {tr: "Hoş geldiniz.", en: "Welcome."}
    nodes:
      welcome: {type: play, prompt: ctigw/welcome, next: main_menu}
      ...

Node kinds and their keys are the models in schema.py (docs/schemas/flow.schema.json). The
loader reports all problems it finds in one go (FlowError.problems), not just the first, in
file order: the file's own problems, then nodes that go nowhere.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from gateway.ivr import hours
from gateway.ivr.model import NODE_KINDS, Condition, Flow, Node, PromptText, Schedule, \
    SubflowNode
from gateway.ivr.schema import DEFAULT_LANGUAGES, NODE_FIELDS, TIERS, TOP_LEVEL, BranchNode, FlowFile, MenuNode
from gateway.yamlfile import YamlFileError, field_value, issues, line_at, parse_yaml, position_at, value_at

FLOW_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class FlowProblem:
    file: str
    line: int
    node: str  # "-" when the problem is not inside a node
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.node}: {self.message}"


class FlowError(ValueError):
    def __init__(self, problems: list[FlowProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def parse_flow_text(text: str, path: str) -> tuple[Flow | None, list[FlowProblem]]:
    """One file, without its sub-flows. Returns the flow (None if unusable) and its problems."""
    try:
        doc = parse_yaml(text, path)
    except YamlFileError as exc:
        return None, [_yaml_problem(exc)]
    if not isinstance(doc, dict):
        return None, [FlowProblem(path, 1, "-", "a flow file must be a mapping with `start` and `nodes`")]
    context = {"languages": field_value(FlowFile, "languages", doc, DEFAULT_LANGUAGES),
               "schedules": tuple(str(k) for k in doc["schedules"]) if isinstance(doc.get("schedules"), dict) else ()}
    try:
        model = FlowFile.model_validate(doc, context=context)
    except ValidationError as exc:
        model = None
        problems = _schema_problems(exc, doc, path)
    else:
        problems = []
    problems.extend(_reference_problems(doc, path, context))
    if problems:
        return None, problems
    return _build(model, doc, path), []


def _yaml_problem(exc: YamlFileError) -> FlowProblem:
    keys = exc.key_path
    if len(keys) == 2 and keys[0] == "nodes":
        return FlowProblem(exc.path, exc.line, str(keys[1]), "node id written twice (YAML would keep the last)")
    if keys:
        node = str(keys[1]) if len(keys) > 2 and keys[0] == "nodes" else "-"
        return FlowProblem(exc.path, exc.line, node, exc.message)
    return FlowProblem(exc.path, exc.line, "-", exc.message)


# --- the models' findings as file:line: node: message ----------------------------------------

def _schema_problems(exc: ValidationError, doc: dict, path: str) -> list[FlowProblem]:
    found: dict[FlowProblem, tuple[int, int]] = {}  # problem -> where it is, for file order
    for issue in issues(exc):
        if issue.loc[0] == "nodes" and len(issue.loc) > 1:
            line, node, message = _node_problem(issue, doc)
        else:
            line, node, message = line_at(doc, issue.loc), "-", _file_problem(issue)
        problem = FlowProblem(path, line, node, message)
        found.setdefault(problem, (line, position_at(doc, issue.loc)[1]))
    return sorted(found, key=found.get)


def _node_problem(issue, doc) -> tuple[int, str, str]:
    loc, kind_of = issue.loc, issue.type
    node_id = str(loc[1])
    raw = value_at(doc, loc[:2])
    if kind_of in ("union_tag_invalid", "union_tag_not_found"):
        kind = raw.get("type") if isinstance(raw, dict) else None
        return line_at(doc, (*loc[:2], "type")), node_id, \
            f"unknown or missing type {kind!r} (known: {', '.join(NODE_KINDS)})"
    if len(loc) == 2:
        return line_at(doc, loc), node_id, "a node must be a mapping with a `type`"
    kind, rest = loc[2], loc[3:]
    line = line_at(doc, loc)
    if not rest:  # a rule across the node's keys
        return line, node_id, issue.message
    key = rest[0]
    if issue.type == "finding":
        return line, node_id, issue.message
    if kind_of == "extra_forbidden" and len(rest) == 1:
        known = [f.alias or name for name, f in NODE_FIELDS[kind].model_fields.items() if name != "type"]
        known = ["prompt", *[k for k in known if k != "prompt"]]
        return line, node_id, f"unknown key {key!r} for a {kind} node (known: {', '.join(known)})"
    if kind_of == "missing" and len(rest) == 1:
        return line, node_id, f"a {kind} node needs `{key}`"
    if key == "cases":
        return line, node_id, f"cases: {_case_problem(issue, rest[1:])}"
    return line, node_id, f"{key}: {issue.message}"


_FACTS = "known, tier, language, open_case, repeat_caller, queue_wait_over"


def _case_problem(issue, rest: tuple) -> str:
    """`rest`: the location below `cases`, e.g. (0, "when", "tier")."""
    if not rest:
        return "expected a list of {when: {...}, goto: node}"
    if len(rest) == 1 or rest[1] not in ("when", "goto") or (
            len(rest) == 2 and issue.type in ("missing", "extra_forbidden", "model_type")):
        return "each case needs exactly `when` and `goto`"
    if rest[1] == "when" and len(rest) > 2:
        if issue.type == "extra_forbidden":
            return f"unknown caller fact {rest[2]!r} (known: {_FACTS})"
        if rest[2] == "queue_wait_over" and issue.type != "value_error":
            return "queue_wait_over: expected {queue: name, seconds: 120}"
    return issue.message


def _file_problem(issue) -> str:
    loc, kind_of = issue.loc, issue.type
    key = loc[0]
    if kind_of == "extra_forbidden" and len(loc) == 1:
        return f"unknown key {key!r} (known: {', '.join(TOP_LEVEL)})"
    if key == "nodes":
        return "`nodes` must be a mapping of node id to node"
    if key == "start" and kind_of == "missing":
        return "`start` is missing: name the first node"
    if key == "tier_priority":
        return issue.message
    if key == "schedules" and len(loc) > 1:
        name = loc[1]
        if len(loc) == 2 or kind_of == "missing":
            return f"schedule {name}: needs timezone and weekly"
        if kind_of == "extra_forbidden":
            return f"schedule {name}: unknown key {loc[2]!r}"
        return f"schedule {name}: {issue.message}"
    if key == "prompts" and len(loc) > 1:
        sound = loc[1]
        if len(loc) > 2 and loc[2] == "[key]":
            return issue.message
        if len(loc) == 2 and kind_of != "finding":
            return f"prompt {sound}: expected {{language: text}}"
        return f"prompt {sound}: {issue.message}"
    if key == "defaults":
        if len(loc) == 1:
            return "`defaults` must be a mapping"
        if kind_of == "extra_forbidden":
            return (f"defaults: unknown key {loc[1]!r} "
                    "(known: timeout, retries, invalid_prompt, no_input_prompt; on_failure is top level)")
        return f"defaults: {loc[1]}: {issue.message}"
    if len(loc) == 1 and kind_of == "value_error" and issue.message.startswith("`"):
        return issue.message
    return f"{key}: {issue.message}"


# --- across nodes: checked on every node that is valid by itself ------------------------------

def _reference_problems(doc: dict, path: str, context: dict) -> list[FlowProblem]:
    raw_nodes = doc.get("nodes") if isinstance(doc.get("nodes"), dict) else {}
    node_ids = {str(k) for k in raw_nodes}
    problems = []
    start = doc.get("start")
    if isinstance(start, str) and start and start not in node_ids:
        problems.append(FlowProblem(path, line_at(doc, ("start",)), "-", f"start node {start!r} does not exist"))
    unknown = []  # (position, problem)
    for node_id, raw in raw_nodes.items():
        model = NODE_FIELDS.get(raw.get("type")) if isinstance(raw, dict) else None
        for where, target in _exits(model, raw, context) if model else ():
            if target not in node_ids:
                loc = ("nodes", node_id, *where)
                unknown.append((position_at(doc, loc), FlowProblem(path, line_at(doc, loc), str(node_id),
                                                                   f"goes to unknown node {target!r}")))
    problems += [problem for _, problem in sorted(unknown, key=lambda u: u[0])]
    on_failure = field_value(FlowFile, "on_failure", doc)
    if on_failure is not None and on_failure not in node_ids:
        problems.append(FlowProblem(path, line_at(doc, ("on_failure",)), "-", f"goes to unknown node {on_failure!r}"))
    return problems


_REFERENCES = ("next", "on_failure", "declined", "else", "open", "closed")


def _exits(model, raw: dict, context: dict) -> list[tuple[tuple, str]]:
    """Every node id a node names, each with the keys leading to where it is written. Each
    key is validated on its own, so a node with other problems still has its exits checked."""
    out = []
    if model is MenuNode:
        out += [(("choices", digit), target) for digit, target in field_value(MenuNode, "choices", raw, {}).items()]
    if model is BranchNode:
        cases = field_value(BranchNode, "cases", raw, [], context)
        out += [(("cases", i, "goto"), case.goto) for i, case in enumerate(cases)]
    names = {field.alias or name for name, field in model.model_fields.items()}
    for key in _REFERENCES:
        target = field_value(model, key, raw) if key in names else None
        if target:
            out.append(((key,), target))
    return out


# --- the validated file as the engine's Flow ---------------------------------------------------

def _build(model: FlowFile, doc: dict, path: str) -> Flow:
    languages = model.languages or DEFAULT_LANGUAGES
    defaults = model.defaults.model_dump(exclude_unset=True) if model.defaults else {}
    schedules = {}
    for name, spec in (model.schedules or {}).items():
        weekly = {}
        for days, ranges in spec.weekly.items():
            parsed = hours.parse_ranges(ranges)
            for day in hours.parse_days(days):
                weekly[day] = parsed
        schedules[name] = Schedule(name, spec.timezone, weekly, frozenset(spec.holidays))
    prompt_texts = {
        sound: PromptText(sound, {lang: text.strip() for lang, text in spec.texts.items()},
                          line_at(doc, ("prompts", sound)), spec.neutral)
        for sound, spec in (model.prompts or {}).items()
    }
    nodes = {node_id: _node(node_id, node, line_at(doc, ("nodes", node_id)), defaults)
             for node_id, node in model.nodes.items()}
    return Flow(
        name=model.flow or Path(path).stem, path=path, start=model.start, nodes=nodes, languages=languages,
        default_language=model.default_language or languages[0], max_steps=model.max_steps or 200,
        on_failure=model.on_failure, schedules=schedules, prompt_texts=prompt_texts,
    )


def _node(node_id: str, node, line: int, defaults: dict) -> Node:
    cls = NODE_KINDS[node.type]
    kwargs = dict(defaults) if "invalid_prompt" in type(node).model_fields else {}
    kwargs.update({name: getattr(node, name) for name in node.model_fields_set if name != "type"})
    if isinstance(node, BranchNode):
        kwargs["cases"] = [(_condition(case.when), case.goto) for case in node.cases]
    return cls(id=node_id, line=line, **kwargs)


def _condition(when) -> Condition:
    facts = {name: getattr(when, name) for name in when.model_fields_set}
    if when.queue_wait_over is not None:
        facts["queue_wait_over"] = (when.queue_wait_over.queue, float(when.queue_wait_over.seconds))
    return Condition(**facts)


# --- files and sub-flows --------------------------------------------------------------------

def flow_file(directory: str | os.PathLike, name: str) -> Path | None:
    for suffix in FLOW_SUFFIXES:
        candidate = Path(directory) / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def load_flow(path: str | os.PathLike, cache: dict[str, Flow] | None = None) -> Flow:
    """Load a flow file and, recursively, the sub-flows it calls (from the same folder).

    Raises FlowError listing every problem in the file and its sub-flows. `cache` (path ->
    Flow) lets several loads share sub-flows, e.g. when checking a whole folder.
    """
    flow, problems = _load_tree(str(path), {} if cache is None else cache)
    if problems or flow is None:
        raise FlowError(problems)
    return flow


def _load_tree(path: str, loaded: dict[str, Flow]) -> tuple[Flow | None, list[FlowProblem]]:
    if path in loaded:
        return loaded[path], []
    try:
        mtime = os.stat(path).st_mtime  # before reading: an edit racing the read is seen next time
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        return None, [FlowProblem(path, 1, "-", f"cannot read: {exc.strerror}")]
    except UnicodeDecodeError:
        return None, [FlowProblem(path, 1, "-", "not UTF-8 text")]
    flow, problems = parse_flow_text(text, path)
    if flow is None:
        return None, problems
    loaded[path] = flow  # before the sub-flows, so a flow that calls itself back terminates
    flow.sources[path] = mtime
    for node in flow.nodes.values():
        if not isinstance(node, SubflowNode) or node.flow in flow.subflows:
            continue
        sub_path = flow_file(Path(path).parent, node.flow)
        if sub_path is None:
            problems.append(FlowProblem(path, node.line, node.id,
                                        f"sub-flow {node.flow!r} not found ({node.flow}.yaml beside this file)"))
            continue
        sub, sub_problems = _load_tree(str(sub_path), loaded)
        problems.extend(sub_problems)
        if sub is not None:
            flow.subflows[node.flow] = sub
    for sub in list(flow.subflows.values()):
        flow.sources.update(sub.sources)
    if problems:
        loaded.pop(path, None)  # a flow with a broken sub-flow is not a good one to hand out later
        return None, problems
    return flow, problems
