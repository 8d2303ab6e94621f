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

Node kinds and their keys are listed in FIELDS below. The loader reports all problems it
finds in one go (FlowError.problems), not just the first.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import yaml

from gateway.ivr import hours
from gateway.ivr.model import (DTMF_DIGITS, NODE_KINDS, CallbackNode,
                               Condition, Flow, HoursNode, LanguageNode, Node, PromptText, RouteNode,
                               Schedule, SubflowNode)
from gateway.ivr.validation import CRM_CHECKS
from gateway.ivr.yaml_marks import DuplicateKeyError, MarkedList, MarkedMap, load_marked
from gateway.tiers import NO_TIER
from gateway.tiers import TIERS as CUSTOMER_TIERS

FLOW_SUFFIXES = (".yaml", ".yml")
TIERS = (*CUSTOMER_TIERS, NO_TIER)  # what a `tier` condition may name
_SOUND_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-./]*$")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Za-z]{2})?$")


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


class _Bad(ValueError):
    """A value that does not fit its key; the message says what was expected."""


# --- value parsers: (value, context) -> python value; raise _Bad -----------------------------

def _sounds(value, ctx) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if not isinstance(item, str) or not _SOUND_NAME.match(item) or "." in item.rsplit("/", 1)[-1]:
            raise _Bad(f"{item!r} is not an Asterisk sound name (like vm-goodbye or ctigw/welcome, no extension)")
        out.append(item)
    return tuple(out)


def _node_ref(value, ctx) -> str:
    if not isinstance(value, str) or not value:
        raise _Bad(f"expected a node id, got {value!r}")
    ctx.refs.append((ctx.node_id, ctx.line, value))
    return value


def _int(low: int, high: int) -> Callable:
    def parse(value, ctx):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise _Bad(f"expected a whole number from {low} to {high}, got {value!r}")
        return value
    return parse


def _seconds(value, ctx) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 120:
        raise _Bad(f"expected seconds (0 < s <= 120), got {value!r}")
    return float(value)


def _bool(value, ctx) -> bool:
    if not isinstance(value, bool):
        raise _Bad(f"expected true or false, got {value!r}")
    return value


def _text(value, ctx) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value) == "":
        raise _Bad(f"expected text, got {value!r}")
    return str(value)


def _digit(value, ctx) -> str:
    digit = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else None
    if digit is None or len(digit) != 1 or digit not in DTMF_DIGITS:
        raise _Bad(f"{value!r} is not one DTMF key (0-9, \"*\", \"#\")")
    return digit


def _language(value, ctx) -> str:
    if not isinstance(value, str) or value not in ctx.languages:
        raise _Bad(f"{value!r} is not one of the flow's languages {list(ctx.languages)}")
    return value


def _digit_map(value_parser) -> Callable:
    def parse(value, ctx):
        if not isinstance(value, MarkedMap) or not value:
            raise _Bad("expected a mapping of keys to what they do, like {1: billing}")
        out = {}
        for key, target in value.items():
            ctx.line = value.line_of(key)
            out[_digit(key, ctx)] = value_parser(target, ctx)
        return out
    return parse


def _pattern(value, ctx) -> str:
    try:
        re.compile(str(value))
    except re.error as exc:
        raise _Bad(f"not a valid regular expression: {exc}") from None
    return str(value)


def _crm_check(value, ctx) -> str:
    if value not in CRM_CHECKS:
        raise _Bad(f"unknown CRM check {value!r} (known: {', '.join(CRM_CHECKS)})")
    return value


def _terminator(value, ctx) -> str:
    if value != "#":
        raise _Bad("only \"#\" can end digit entry (Asterisk's GET DATA)")
    return value


def _name(value, ctx) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise _Bad(f"{value!r} is not a name (letters, digits, _ and -)")
    return value


def _skills(value, ctx) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(s, str) and _NAME.match(s) for s in items):
        raise _Bad(f"expected a list of skill names, got {value!r}")
    return tuple(items)


def _status_prompts(value, ctx) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, MarkedMap):
        raise _Bad("expected a mapping of case status to prompt, like {open: ctigw/case_open}")
    out = {}
    for status, sounds in value.items():
        ctx.line = value.line_of(status)
        out[str(status)] = _sounds(sounds, ctx)
    return out


def _schedule_ref(value, ctx) -> str:
    if value not in ctx.schedules:
        known = ", ".join(ctx.schedules) or "none defined"
        raise _Bad(f"unknown schedule {value!r} (schedules: {known})")
    return value


def _cases(value, ctx) -> list[tuple[Condition, str]]:
    if not isinstance(value, MarkedList) or not value:
        raise _Bad("expected a list of {when: {...}, goto: node}")
    out = []
    for i, case in enumerate(value):
        ctx.line = value.line_of(i)
        if not isinstance(case, MarkedMap) or set(case) != {"when", "goto"}:
            raise _Bad("each case needs exactly `when` and `goto`")
        ctx.line = case.line_of("when")
        condition = _condition(case["when"], ctx)
        ctx.line = case.line_of("goto")
        out.append((condition, _node_ref(case["goto"], ctx)))
    return out


def _condition(value, ctx) -> Condition:
    if not isinstance(value, MarkedMap) or not value:
        raise _Bad("`when` needs caller facts, like {known: true, tier: [gold, platinum]}")
    facts = {}
    for key, v in value.items():
        ctx.line = value.line_of(key)
        if key in ("known", "open_case", "repeat_caller"):
            facts[key] = _bool(v, ctx)
        elif key == "tier":
            tiers = tuple(str(t) if t is not None else "none" for t in (v if isinstance(v, list) else [v]))
            if not tiers or any(t not in TIERS for t in tiers):
                raise _Bad(f"tier: expected some of {', '.join(TIERS)}, got {v!r}")
            facts["tier"] = tiers
        elif key == "language":
            facts["language"] = tuple(_language(x, ctx) for x in (v if isinstance(v, list) else [v]))
        elif key == "queue_wait_over":
            if not isinstance(v, MarkedMap) or set(v) != {"queue", "seconds"}:
                raise _Bad("queue_wait_over: expected {queue: name, seconds: 120}")
            seconds = v["seconds"]
            if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
                raise _Bad(f"queue_wait_over: seconds must be a number, got {seconds!r}")
            facts["queue_wait_over"] = (_name(v["queue"], ctx), float(seconds))
        else:
            raise _Bad(f"unknown caller fact {key!r} (known: known, tier, language, open_case, "
                       "repeat_caller, queue_wait_over)")
    return Condition(**facts)


_RETRYING = {
    "timeout": ("timeout", _seconds),
    "retries": ("retries", _int(0, 9)),
    "invalid_prompt": ("invalid_prompt", _sounds),
    "no_input_prompt": ("no_input_prompt", _sounds),
    "on_failure": ("on_failure", _node_ref),
}

# Node kind -> {yaml key: (attribute, parser)}. `prompt` is allowed on every kind.
FIELDS: dict[str, dict[str, tuple[str, Callable]]] = {
    "play": {"next": ("next", _node_ref)},
    "menu": {"choices": ("choices", _digit_map(_node_ref)), **_RETRYING},
    "collect": {
        "min_length": ("min_length", _int(1, 32)), "max_length": ("max_length", _int(1, 32)),
        "terminator": ("terminator", _terminator), "pattern": ("pattern", _pattern), "luhn": ("luhn", _bool),
        "check": ("check", _crm_check), "sensitive": ("sensitive", _bool), "store": ("store", _name),
        "next": ("next", _node_ref), **_RETRYING,
    },
    "branch": {"cases": ("cases", _cases), "else": ("otherwise", _node_ref)},
    "hours": {"schedule": ("schedule", _schedule_ref), "open": ("open", _node_ref), "closed": ("closed", _node_ref)},
    "language": {
        "choices": ("choices", _digit_map(_language)), "use_caller_language": ("use_caller_language", _bool),
        "default": ("default", _language), "next": ("next", _node_ref), **_RETRYING,
    },
    "case_status": {
        "intro_prompt": ("intro_prompt", _sounds), "status_prompts": ("status_prompts", _status_prompts),
        "unknown_status_prompt": ("unknown_status_prompt", _sounds), "none_prompt": ("none_prompt", _sounds),
        "count_prompt": ("count_prompt", _sounds), "next": ("next", _node_ref), "on_failure": ("on_failure", _node_ref),
    },
    "voicemail": {
        "mailbox": ("mailbox", _text), "record_dir": ("record_dir", _text), "format": ("format", _name),
        "max_seconds": ("max_seconds", _int(5, 600)), "silence_seconds": ("silence_seconds", _int(0, 60)),
        "goodbye_prompt": ("goodbye_prompt", _sounds),
    },
    "callback": {
        "accept": ("accept", _digit), "other_number": ("other_number", _digit),
        "number_prompt": ("number_prompt", _sounds), "confirm_prompt": ("confirm_prompt", _sounds),
        "min_length": ("min_length", _int(3, 20)), "max_length": ("max_length", _int(3, 20)),
        "declined": ("declined", _node_ref), **_RETRYING,
    },
    "route": {"queue": ("queue", _name), "skills": ("skills", _skills), "language": ("language", _language),
              "priority": ("priority", _int(0, 100))},
    "hangup": {},
    "subflow": {"flow": ("flow", _name), "next": ("next", _node_ref)},
    "return": {},
}
REQUIRED = {
    "menu": ("choices",), "branch": ("cases",), "hours": ("schedule", "open", "closed"),
    "language": ("choices",), "route": ("queue",), "subflow": ("flow",), "collect": ("max_length", "prompt"),
}
TOP_LEVEL = ("flow", "start", "languages", "default_language", "max_steps", "on_failure", "defaults",
             "schedules", "prompts", "nodes", "description")


class _Context:
    """What parsers need while reading one file: where they are and what to check later."""

    def __init__(self, path: str):
        self.path = path
        self.problems: list[FlowProblem] = []
        self.refs: list[tuple[str, int, str]] = []  # (node id, line, target node id)
        self.node_id = "-"
        self.line = 1
        self.languages: tuple[str, ...] = ("tr", "en")
        self.schedules: dict[str, Schedule] = {}

    def problem(self, line: int, node: str, message: str) -> None:
        self.problems.append(FlowProblem(self.path, line, node, message))


def parse_flow_text(text: str, path: str) -> tuple[Flow | None, list[FlowProblem]]:
    """One file, without its sub-flows. Returns the flow (None if unusable) and its problems."""
    ctx = _Context(path)
    try:
        raw = load_marked(text)
    except DuplicateKeyError as exc:
        keys = exc.key_path
        line = exc.problem_mark.line + 1
        if len(keys) == 2 and keys[0] == "nodes":
            return None, [FlowProblem(path, line, str(keys[1]), "node id written twice (YAML would keep the last)")]
        node = str(keys[1]) if len(keys) > 2 and keys[0] == "nodes" else "-"
        return None, [FlowProblem(path, line, node, f"key {keys[-1]!r} written twice")]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        message = " ".join(str(getattr(exc, "problem", None) or exc).split())
        context = getattr(exc, "context", None)
        if context and getattr(exc, "context_mark", None):
            message = f"{context} (line {exc.context_mark.line + 1}): {message}"
        return None, [FlowProblem(path, line, "-", f"not valid YAML: {message}")]
    if not isinstance(raw, MarkedMap):
        return None, [FlowProblem(path, 1, "-", "a flow file must be a mapping with `start` and `nodes`")]
    for key in raw:
        if key == "tier_priority":  # flows once added tier points; the ACD alone does now
            ctx.problem(raw.line_of(key), "-", "tier_priority is queue policy now: set the points in "
                        "agents/queues.yaml, priority: tiers")
        elif key not in TOP_LEVEL:
            ctx.problem(raw.line_of(key), "-", f"unknown key {key!r} (known: {', '.join(TOP_LEVEL)})")

    name = _top(ctx, raw, "flow", _name, Path(path).stem)
    languages = _top(ctx, raw, "languages", lambda v, c: _language_list(v), ("tr", "en"))
    ctx.languages = languages
    default_language = _top(ctx, raw, "default_language", _language, languages[0])
    max_steps = _top(ctx, raw, "max_steps", _int(10, 10_000), 200)
    ctx.schedules = _schedules(ctx, raw.get("schedules"), raw.line_of("schedules"))
    prompt_texts = _prompt_texts(ctx, raw.get("prompts"), raw)
    defaults = _defaults(ctx, raw.get("defaults"), raw.line_of("defaults"))

    nodes: dict[str, Node] = {}
    raw_nodes = raw.get("nodes")
    if not isinstance(raw_nodes, MarkedMap) or not raw_nodes:
        ctx.problem(raw.line_of("nodes"), "-", "`nodes` must be a mapping of node id to node")
        raw_nodes = MarkedMap()
        raw_nodes.key_lines = {}
    for node_id, raw_node in raw_nodes.items():
        node = _parse_node(ctx, str(node_id), raw_node, raw_nodes.line_of(node_id), defaults)
        if node is not None:
            nodes[str(node_id)] = node

    start = raw.get("start")
    if start is None:
        ctx.problem(1, "-", "`start` is missing: name the first node")
    elif start not in raw_nodes:
        ctx.problem(raw.line_of("start"), "-", f"start node {start!r} does not exist")
    on_failure = None
    if "on_failure" in raw:
        ctx.node_id, ctx.line = "-", raw.line_of("on_failure")
        on_failure = _node_ref(raw["on_failure"], ctx) if isinstance(raw["on_failure"], str) else None
    for node_id, line, target in ctx.refs:
        if target not in raw_nodes:
            ctx.problem(line, node_id, f"goes to unknown node {target!r}")

    flow = Flow(
        name=str(name), path=path, start=str(start), nodes=nodes, languages=languages,
        default_language=default_language, max_steps=max_steps, on_failure=on_failure,
        schedules=ctx.schedules, prompt_texts=prompt_texts,
    )
    return (None if ctx.problems else flow), ctx.problems


def _top(ctx: _Context, raw: MarkedMap, key: str, parser, default):
    if key not in raw:
        return default
    ctx.node_id, ctx.line = "-", raw.line_of(key)
    try:
        return parser(raw[key], ctx)
    except _Bad as exc:
        ctx.problem(raw.line_of(key), "-", f"{key}: {exc}")
        return default


def _language_list(value) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(x, str) and _LANGUAGE.match(x) for x in items):
        raise _Bad(f"expected language codes like [tr, en], got {value!r}")
    return tuple(items)


def _schedules(ctx: _Context, raw, line: int) -> dict[str, Schedule]:
    if raw is None:
        return {}
    if not isinstance(raw, MarkedMap):
        ctx.problem(line, "-", "`schedules` must map a schedule name to {timezone, weekly, holidays}")
        return {}
    out = {}
    for name, spec in raw.items():
        where = raw.line_of(name)
        if not isinstance(spec, MarkedMap) or "timezone" not in spec or "weekly" not in spec:
            ctx.problem(where, "-", f"schedule {name}: needs timezone and weekly")
            continue
        for key in spec:
            if key not in ("timezone", "weekly", "holidays"):
                ctx.problem(spec.line_of(key), "-", f"schedule {name}: unknown key {key!r}")
        try:
            hours.check_timezone(spec["timezone"])
        except ValueError as exc:
            ctx.problem(spec.line_of("timezone"), "-", f"schedule {name}: {exc}")
            continue
        weekly: dict[int, tuple] = {}
        week = spec["weekly"]
        if not isinstance(week, MarkedMap):
            ctx.problem(spec.line_of("weekly"), "-", f"schedule {name}: weekly must map days to hours")
            continue
        for days, ranges in week.items():
            try:
                parsed = hours.parse_ranges(ranges)
                for day in hours.parse_days(days):
                    weekly[day] = parsed
            except ValueError as exc:
                ctx.problem(week.line_of(days), "-", f"schedule {name}: {exc}")
        holidays = set()
        raw_holidays = spec.get("holidays") or []
        for i, day in enumerate(raw_holidays if isinstance(raw_holidays, list) else [raw_holidays]):
            try:
                holidays.add(day if isinstance(day, dt.date) else dt.date.fromisoformat(str(day)))
            except ValueError:
                line_of = getattr(raw_holidays, "line_of", lambda i: spec.line_of("holidays"))
                ctx.problem(line_of(i), "-", f"schedule {name}: holiday {day!r} is not a date like 2026-01-01")
        out[str(name)] = Schedule(str(name), str(spec["timezone"]), weekly, frozenset(holidays))
    return out


def _prompt_texts(ctx: _Context, raw, top: MarkedMap) -> dict[str, PromptText]:
    if raw is None:
        return {}
    if not isinstance(raw, MarkedMap):
        ctx.problem(top.line_of("prompts"), "-", "`prompts` must map ctigw/<name> to {language: text}")
        return {}
    out = {}
    for sound, spec in raw.items():
        where = raw.line_of(sound)
        if not isinstance(sound, str) or not sound.startswith("ctigw/") or not _SOUND_NAME.match(sound):
            ctx.problem(where, "-", f"prompt {sound!r}: prompts with text must be named ctigw/<name>")
            continue
        if not isinstance(spec, MarkedMap) or not spec:
            ctx.problem(where, "-", f"prompt {sound}: expected {{language: text}}")
            continue
        neutral = spec.get("neutral", False)
        if not isinstance(neutral, bool):
            ctx.problem(spec.line_of("neutral"), "-", f"prompt {sound}: neutral must be true or false")
        texts = {}
        for lang, text in spec.items():
            if lang == "neutral":
                continue
            if lang not in ctx.languages:
                ctx.problem(spec.line_of(lang), "-",
                            f"prompt {sound}: {lang!r} is not one of the flow's languages {list(ctx.languages)}")
            elif not isinstance(text, str) or not text.strip():
                ctx.problem(spec.line_of(lang), "-", f"prompt {sound}: {lang} text is empty")
            else:
                texts[lang] = text.strip()
        if neutral is True and len(texts) != 1:
            ctx.problem(where, "-", f"prompt {sound}: a neutral prompt has exactly one text")
        out[sound] = PromptText(sound, texts, where, neutral is True)
    return out


def _defaults(ctx: _Context, raw, line: int) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, MarkedMap):
        ctx.problem(line, "-", "`defaults` must be a mapping")
        return {}
    out = {}
    for key, value in raw.items():
        if key not in _RETRYING or key == "on_failure":
            ctx.problem(raw.line_of(key), "-", f"defaults: unknown key {key!r} "
                        "(known: timeout, retries, invalid_prompt, no_input_prompt; on_failure is top level)")
            continue
        attr, parser = _RETRYING[key]
        ctx.node_id, ctx.line = "-", raw.line_of(key)
        try:
            out[attr] = parser(value, ctx)
        except _Bad as exc:
            ctx.problem(raw.line_of(key), "-", f"defaults: {key}: {exc}")
    return out


def _parse_node(ctx: _Context, node_id: str, raw, line: int, defaults: dict) -> Node | None:
    if not isinstance(raw, MarkedMap):
        ctx.problem(line, node_id, "a node must be a mapping with a `type`")
        return None
    kind = raw.get("type")
    if kind not in NODE_KINDS:
        ctx.problem(raw.line_of("type"), node_id,
                    f"unknown or missing type {kind!r} (known: {', '.join(NODE_KINDS)})")
        return None
    fields = FIELDS[kind]
    cls = NODE_KINDS[kind]
    kwargs: dict = {"id": node_id, "line": line}
    if "invalid_prompt" in fields:
        kwargs.update({k: v for k, v in defaults.items()})
    ok = True
    for key, value in raw.items():
        if key == "type":
            continue
        if key == "prompt":
            spec = ("prompt", _sounds)
        elif key in fields:
            spec = fields[key]
        else:
            ctx.problem(raw.line_of(key), node_id,
                        f"unknown key {key!r} for a {kind} node (known: {', '.join(['prompt', *fields])})")
            ok = False
            continue
        ctx.node_id, ctx.line = node_id, raw.line_of(key)
        try:
            kwargs[spec[0]] = spec[1](value, ctx)
        except _Bad as exc:
            ctx.problem(ctx.line, node_id, f"{key}: {exc}")
            ok = False
    for key in REQUIRED.get(kind, ()):
        if key not in raw:
            ctx.problem(line, node_id, f"a {kind} node needs `{key}`")
            ok = False
    if not ok:
        return None
    node = cls(**kwargs)
    _check_node(ctx, node, raw)
    return node


def _check_node(ctx: _Context, node: Node, raw: MarkedMap) -> None:
    """Rules that span several keys of one node."""
    if hasattr(node, "min_length") and node.min_length > node.max_length:
        ctx.problem(raw.line_of("min_length"), node.id, "min_length is greater than max_length")
    if isinstance(node, CallbackNode):
        if node.other_number and node.other_number == node.accept:
            ctx.problem(raw.line_of("other_number"), node.id, "other_number uses the same key as accept")
        if node.other_number and not node.number_prompt:
            ctx.problem(raw.line_of("other_number"), node.id, "other_number needs a number_prompt")
    if isinstance(node, LanguageNode) and node.default and "on_failure" in raw:
        ctx.problem(raw.line_of("on_failure"), node.id, "give either default or on_failure, not both")
    if isinstance(node, RouteNode) and not node.skills:
        ctx.problem(node.line, node.id, "a route node needs `skills` (the ACD matches agents on them)")
    if isinstance(node, HoursNode) and node.open == node.closed:
        ctx.problem(node.line, node.id, "open and closed go to the same node: the hours check does nothing")


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
