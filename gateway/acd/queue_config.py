"""Queue policy as data (agents/queues.yaml): wrap-up, minimum proficiency, relax steps,
overflow, last-agent affinity, and how customer tier and waiting time weigh on priority.

    priority:
      aging_seconds_per_point: 30        # waiting this long is worth one priority point
      fit_seconds_per_level: 6           # a freed agent prefers calls they are good at
      tiers: {platinum: 4, gold: 2, silver: 1}
    defaults:
      wrapup_seconds: 10
      min_proficiency: 5
      affinity_wait_seconds: 20
      acw: {mode: optional}             # or {mode: mandatory, seconds: 60, timeout_disposition: no_disposition}
      dispositions:                     # the wrap-up outcomes agents pick from, in both languages
        - {code: resolved, tr: Çözüldü, en: Resolved}
    queues:
      billing:
        tr: Fatura                       # the agents' name for it (optional; else "billing")
        en: Billing
        team: billing
        skills: [billing]
        relax:                           # cumulative: a step keeps what earlier ones relaxed
          - {after: 30, min_proficiency: 3}
          - {after: 90, any_team_agent: true}
          - {after: 300, overflow: general}     # or {after: 300, outcome: voicemail|callback}
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from gateway.acd.errors import QueueConfigError
from gateway.acd.roster import Roster
from gateway.acd.schema import (MAX_PROFICIENCY, MIN_PROFICIENCY, OUTCOMES, AcwEntry, DispositionEntry, QueueEntry,
                                QueuesFile, QueueSettingsEntry, RelaxStepEntry)
from gateway.labels import LabelledCode
from gateway.yamlfile import YamlFileError, field_value, issues, line_at, load_yaml, mapping_line_at
DEFAULT_ANNOUNCE_EVERY = 60.0
DEFAULT_HANDLE_SECONDS = 240.0


@dataclass(frozen=True)
class RelaxStep:
    """From `after` seconds of waiting in the queue on, the call accepts what this step allows."""

    after: float
    min_proficiency: int | None = None
    any_team_agent: bool = False
    overflow: str | None = None  # move the call to this queue
    outcome: str | None = None  # "voicemail" / "callback": the call layer takes the call away

    @property
    def is_terminal(self) -> bool:
        return self.overflow is not None or self.outcome is not None


class Disposition(LabelledCode):
    """How a call ended, as the agent's wrap-up records it."""


@dataclass(frozen=True)
class AfterCallWork:
    """optional: the agent ends wrap-up when they like; mandatory: only by saving a
    disposition, and when `seconds` run out `timeout_disposition` is recorded for them."""

    mode: str = "optional"
    seconds: float = 10.0
    timeout_disposition: str | None = None

    @property
    def mandatory(self) -> bool:
        return self.mode == "mandatory"


# When neither the queue nor `defaults` lists dispositions.
BUILTIN_DISPOSITIONS = (
    Disposition("resolved", "Çözüldü", "Resolved"),
    Disposition("follow_up", "Takip gerekiyor", "Follow-up needed"),
    Disposition("no_disposition", "Sonuç girilmedi", "No disposition entered"),
)


@dataclass(frozen=True)
class Stage:
    """The requirements in force from `after` seconds on: the relax steps folded together."""

    after: float
    min_proficiency: int
    any_team_agent: bool


@dataclass(frozen=True)
class QueuePolicy:
    name: str
    skills: tuple[str, ...]
    team: str | None = None
    min_proficiency: int = 5
    wrapup_seconds: float = 10.0
    affinity_wait_seconds: float = 20.0
    announce_every_seconds: float = DEFAULT_ANNOUNCE_EVERY
    expected_handle_seconds: float = DEFAULT_HANDLE_SECONDS
    relax: tuple[RelaxStep, ...] = ()
    acw: AfterCallWork | None = None  # None: optional, for wrapup_seconds
    dispositions: tuple[Disposition, ...] = BUILTIN_DISPOSITIONS
    stages: tuple[Stage, ...] = field(default=(), compare=False)
    tr: str | None = None  # what agents see, in their language; the name when not given
    en: str | None = None

    def __post_init__(self):
        if not self.stages:
            object.__setattr__(self, "stages", fold_stages(self.min_proficiency, self.relax))
        if self.acw is None:
            object.__setattr__(self, "acw", AfterCallWork(seconds=self.wrapup_seconds))

    def label(self, language: str) -> str:
        """The queue as agents read it (the desk's transfer list): its label, else its name."""
        return (self.tr if language == "tr" else self.en) or self.name

    def disposition(self, code: str) -> Disposition | None:
        return next((d for d in self.dispositions if d.code == code), None)

    @property
    def terminal_step(self) -> RelaxStep | None:
        return self.relax[-1] if self.relax and self.relax[-1].is_terminal else None


def fold_stages(min_proficiency: int, relax: tuple[RelaxStep, ...]) -> tuple[Stage, ...]:
    stages = [Stage(0.0, min_proficiency, False)]
    for step in relax:
        if step.is_terminal:
            continue
        last = stages[-1]
        stages.append(Stage(step.after,
                            step.min_proficiency if step.min_proficiency is not None else last.min_proficiency,
                            step.any_team_agent or last.any_team_agent))
    return tuple(stages)


@dataclass(frozen=True)
class QueueConfig:
    queues: dict[str, QueuePolicy]
    aging_seconds_per_point: float = 30.0
    tier_points: dict[str, float] = field(default_factory=dict)
    path: str = ""
    fit_seconds_per_level: float = 0.0  # see matching.best_call

    def policy(self, name: str) -> QueuePolicy | None:
        return self.queues.get(name)

    def names(self) -> list[str]:
        return list(self.queues)

    def check_against(self, roster: Roster) -> None:
        """Skills and teams must exist in the roster, or no agent could ever serve the queue."""
        problems = []
        skills, teams = roster.all_skills(), {t.id for t in roster.teams}
        for policy in self.queues.values():
            for skill in policy.skills:
                if skill not in skills:
                    problems.append(f"{self.path}: queue {policy.name}: no agent in {roster.path} has skill {skill!r}")
            if policy.team is not None and policy.team not in teams:
                problems.append(f"{self.path}: queue {policy.name}: team {policy.team!r} is not in {roster.path}")
        if problems:
            raise QueueConfigError(problems)


def queue_config_path_for(roster_path: str | os.PathLike) -> Path:
    """The queue file lives beside the roster."""
    return Path(roster_path).with_name("queues.yaml")


def load_queue_config(path: str | os.PathLike, *, default_wrapup_seconds: float = 10.0,
                      roster: Roster | None = None) -> QueueConfig:
    try:
        doc = load_yaml(path)
    except YamlFileError as exc:
        raise QueueConfigError([str(exc)]) from None
    config = parse_queue_config(doc, str(Path(path)), default_wrapup_seconds)
    if roster is not None:
        config.check_against(roster)
    return config


def parse_queue_config(doc, where: str, default_wrapup_seconds: float = 10.0) -> QueueConfig:
    """Every problem is reported at once, in file order, each on the line of its queue or step."""
    if not isinstance(doc, dict) or not isinstance(doc.get("queues"), dict) or not doc["queues"]:
        raise QueueConfigError([f"{where}:1: expected a mapping with a non-empty 'queues' mapping"])
    problems: list[tuple[int, str]] = []
    try:
        model = QueuesFile.model_validate(doc)
    except ValidationError as exc:
        model = None
        problems += [(_line(doc, issue), _explain(issue)) for issue in issues(exc)]
    problems += _check_across_steps_and_queues(doc)
    if problems:
        problems.sort(key=lambda p: p[0])
        raise QueueConfigError([f"{where}:{line}: {message}" for line, message in problems])
    builtin = QueueSettingsEntry(min_proficiency=5, wrapup_seconds=default_wrapup_seconds, affinity_wait_seconds=20.0,
                                 announce_every_seconds=DEFAULT_ANNOUNCE_EVERY,
                                 expected_handle_seconds=DEFAULT_HANDLE_SECONDS, acw=AcwEntry(),
                                 dispositions=[DispositionEntry(code=d.code, tr=d.tr, en=d.en)
                                               for d in BUILTIN_DISPOSITIONS])
    queues = {name: _policy(name, entry, (entry, model.defaults, builtin)) for name, entry in model.queues.items()}
    problems = [(line_at(doc, ("queues", name)), f"queue {name}: timeout_disposition "
                 f"{policy.acw.timeout_disposition!r} is not one of its dispositions "
                 f"({', '.join(d.code for d in policy.dispositions)})")
                for name, policy in queues.items() if _timeout_disposition_unknown(policy)]
    if problems:
        raise QueueConfigError([f"{where}:{line}: {message}" for line, message in problems])
    return QueueConfig(queues=queues, aging_seconds_per_point=model.priority.aging_seconds_per_point,
                       tier_points=dict(model.priority.tiers), path=where,
                       fit_seconds_per_level=model.priority.fit_seconds_per_level)


def _timeout_disposition_unknown(policy: QueuePolicy) -> bool:
    code = policy.acw.timeout_disposition
    return code is not None and policy.disposition(code) is None


def _policy(name: str, entry: QueueEntry, layers: tuple[QueueSettingsEntry, ...]) -> QueuePolicy:
    def setting(key):  # the queue's own value, else the file's defaults, else the built-in one
        return next(getattr(layer, key) for layer in layers if getattr(layer, key) is not None)

    relax = tuple(RelaxStep(s.after, s.min_proficiency, s.any_team_agent, s.overflow, s.outcome) for s in entry.relax)
    values = {key: setting(key) for key in QueueSettingsEntry.model_fields}
    acw_entry = values.pop("acw")
    # The ACW countdown is the wrap-up timer: acw.seconds, when given, is the queue's wrap-up time.
    if acw_entry.seconds is not None:
        values["wrapup_seconds"] = acw_entry.seconds
    acw = AfterCallWork(acw_entry.mode, values["wrapup_seconds"], acw_entry.timeout_disposition)
    dispositions = tuple(Disposition(d.code, d.tr, d.en) for d in values.pop("dispositions"))
    return QueuePolicy(name=name, skills=tuple(entry.skills), team=entry.team, relax=relax, acw=acw,
                       dispositions=dispositions, tr=entry.tr, en=entry.en, **values)


def _line(doc, issue) -> int:
    # A value that should have been a mapping is named on its own line, anything else on
    # the line of the queue or step it is in.
    return line_at(doc, issue.loc) if issue.type == "model_type" else mapping_line_at(doc, issue.loc)


_NUMBER_RULES = {"wrapup_seconds": ">= 0", "affinity_wait_seconds": ">= 0", "announce_every_seconds": ">= 0",
                 "expected_handle_seconds": ">= 1"}


def _explain(issue) -> str:
    loc, kind = issue.loc, issue.type
    section = loc[0]
    if len(loc) == 1:
        if kind == "extra_forbidden":
            return f"unknown top-level key {section!r} (known: defaults, priority, queues)"
        return f"'{section}' must be a mapping"
    if section == "priority":
        key = loc[1]
        if kind == "extra_forbidden":
            return f"priority: unknown key {key!r} (known: {', '.join(QueuesFile.model_fields['priority'].annotation.model_fields)})"
        if key == "aging_seconds_per_point":
            return "priority: aging_seconds_per_point must be a positive number"
        if key == "fit_seconds_per_level":
            return "priority: fit_seconds_per_level must be a number >= 0"
        if len(loc) > 2 and loc[-1] == "[key]":
            return f"priority: {issue.message}"
        if len(loc) > 2:
            return f"priority: tier {loc[2]!r}: points must be a number, got {issue.input!r}"
        return "priority: tiers must map a customer tier to priority points"
    if section == "defaults":
        if loc[1] in ("acw", "dispositions"):
            return _wrapup_problem("defaults", loc[1:], issue)
        return _setting_problem("defaults", loc[1], issue, QueueSettingsEntry)
    name = loc[1]
    who = f"queue {name}"
    if len(loc) == 2:
        return f"{who}: must be a mapping"
    key = loc[2]
    if key == "[key]":
        return f"queue {name!r}: a queue name has letters, digits, _ and - only"
    if key == "relax" and len(loc) > 3:
        return _step_problem(who, loc[4:], issue)
    if key == "relax":
        return f"{who}: 'relax' must be a list of steps"
    if key == "skills":
        return f"{who}: 'skills' must be a non-empty list of skill names"
    if key in ("acw", "dispositions"):
        return _wrapup_problem(who, loc[2:], issue)
    return _setting_problem(who, key, issue, QueueEntry)


def _wrapup_problem(who: str, loc: tuple, issue) -> str:
    # loc: ("acw", "mode") or ("dispositions", 2, "code"): named as acw.mode, dispositions[3].code
    where = loc[0] + "".join(f"[{part + 1}]" if isinstance(part, int) else f".{part}" for part in loc[1:])
    if issue.type == "extra_forbidden":
        return f"{who}: {where}: unknown key"
    if issue.type == "missing":
        return f"{who}: {where} is required"
    if where.endswith(".mode"):
        return f"{who}: {where} must be optional or mandatory, got {issue.input!r}"
    if where.endswith(".code"):
        return f"{who}: {where} must be a name (letters, digits, _ and -), got {issue.input!r}"
    return f"{who}: {where}: {issue.message}"


def _setting_problem(who: str, key, issue, model) -> str:
    if issue.type == "extra_forbidden":
        known = [k for k in model.model_fields]
        return f"{who}: unknown key {key!r} (known: {', '.join(known)})"
    if key == "min_proficiency":
        return f"{who}: min_proficiency must be an integer {MIN_PROFICIENCY}..{MAX_PROFICIENCY}, got {issue.input!r}"
    if key in _NUMBER_RULES:
        return f"{who}: {key} must be a number {_NUMBER_RULES[key]}, got {issue.input!r}"
    return f"{who}: {key}: {issue.message}"


def _step_problem(who: str, rest: tuple, issue) -> str:
    if issue.type == "finding":
        return f"{who}: {issue.message}"
    if not rest:
        return f"{who}: relax step {issue.input!r} must be a mapping"
    key = rest[0]
    if issue.type == "extra_forbidden":
        return f"{who}: relax step: unknown key {key!r} (known: {', '.join(RelaxStepEntry.model_fields)})"
    if key == "after":
        return f"{who}: relax step needs 'after' (seconds of waiting >= 0)"
    if key == "min_proficiency":
        return (f"{who}: relax step min_proficiency must be an integer {MIN_PROFICIENCY}..{MAX_PROFICIENCY}, "
                f"got {issue.input!r}")
    if key == "any_team_agent":
        return f"{who}: any_team_agent must be true or false"
    if key == "outcome":
        return f"{who}: outcome must be one of {', '.join(OUTCOMES)}, got {issue.input!r}"
    return f"{who}: relax step: {key}: {issue.message}"


def _check_across_steps_and_queues(doc) -> list[tuple[int, str]]:
    """Rules across the steps of a queue, and across queues: checked on the valid fields of
    each step, so one broken step does not hide the others' problems."""
    problems = []
    queues = doc["queues"]
    overflow_of: dict[str, str] = {}  # queue -> where its final step sends the call
    for name, entry in queues.items():
        raw_steps = entry.get("relax") if isinstance(entry, dict) else None
        if not isinstance(raw_steps, list):
            continue
        who, team = f"queue {name}", field_value(QueueEntry, "team", entry)
        previous_after, previous_terminal = None, False
        for i, step in enumerate(raw_steps):
            line = line_at(doc, ("queues", name, "relax", i))
            after = field_value(RelaxStepEntry, "after", step)
            if after is None:
                continue
            overflow = field_value(RelaxStepEntry, "overflow", step)
            outcome = step.get("outcome") if isinstance(step, dict) else None
            if previous_after is not None and after <= previous_after:
                problems.append((line, f"{who}: relax steps must have increasing 'after' "
                                       f"({after} follows {previous_after})"))
            if previous_terminal:
                problems.append((line, f"{who}: no step may follow an overflow/outcome step"))
            if field_value(RelaxStepEntry, "any_team_agent", step) and team is None:
                problems.append((line, f"{who}: any_team_agent needs the queue's 'team'"))
            if overflow is not None and overflow == str(name):
                problems.append((line, f"{who}: a queue cannot overflow to itself"))
            elif overflow is not None and overflow not in queues:
                problems.append((line, f"{who}: overflow to unknown queue {overflow!r}"))
            previous_after, previous_terminal = after, overflow is not None or outcome is not None
            overflow_of.pop(str(name), None)
            if overflow is not None:
                overflow_of[str(name)] = overflow
    problems.extend(_overflow_cycles(doc, overflow_of))
    return problems


def _overflow_cycles(doc, overflow_of: dict[str, str]) -> list[tuple[int, str]]:
    # A cycle would bounce a caller between queues forever; each overflow must lead somewhere final.
    problems = []
    for start in overflow_of:
        seen, name = [start], start
        while (nxt := overflow_of.get(name)) is not None and nxt != name:
            if nxt in seen:
                if nxt == start:
                    problems.append((line_at(doc, ("queues", start)),
                                     f"queue {start}: overflow cycle {' -> '.join(seen + [nxt])}"))
                break
            seen.append(nxt)
            name = nxt
    return problems
