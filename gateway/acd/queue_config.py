"""Queue policy as data (agents/queues.yaml): wrap-up, minimum proficiency, relax steps,
overflow, last-agent affinity, and how customer tier and waiting time weigh on priority.

    priority:
      aging_seconds_per_point: 30        # waiting this long is worth one priority point
      fit_seconds_per_level: 6           # a freed agent prefers calls they are good at
      tiers: {platinum: 4, gold: 2, silver: 1}
    defaults: {wrapup_seconds: 10, min_proficiency: 5, affinity_wait_seconds: 20}
    queues:
      billing:
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

from gateway.acd.errors import QueueConfigError
from gateway.acd.roster import MAX_PROFICIENCY, MIN_PROFICIENCY, Roster
from gateway.acd.yaml_lines import YamlFileError, line_of, load_yaml_with_lines
from gateway.tiers import TIERS

OUTCOMES = ("voicemail", "callback")
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
    stages: tuple[Stage, ...] = field(default=(), compare=False)

    def __post_init__(self):
        if not self.stages:
            object.__setattr__(self, "stages", fold_stages(self.min_proficiency, self.relax))

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
    path = Path(path)
    try:
        doc = load_yaml_with_lines(path)
    except YamlFileError as exc:
        raise QueueConfigError([str(exc)]) from None
    config = parse_queue_config(doc, str(path), default_wrapup_seconds)
    if roster is not None:
        config.check_against(roster)
    return config


_QUEUE_KEYS = ("team", "skills", "min_proficiency", "wrapup_seconds", "affinity_wait_seconds",
               "announce_every_seconds", "expected_handle_seconds", "relax")
_DEFAULT_KEYS = tuple(k for k in _QUEUE_KEYS if k not in ("team", "skills", "relax"))
_STEP_KEYS = ("after", "min_proficiency", "any_team_agent", "overflow", "outcome")


def parse_queue_config(doc, where: str, default_wrapup_seconds: float = 10.0) -> QueueConfig:
    problems: list[str] = []

    def problem(node, message: str) -> None:
        problems.append(f"{where}:{line_of(node)}: {message}")

    if not isinstance(doc, dict) or not isinstance(doc.get("queues"), dict) or not doc["queues"]:
        raise QueueConfigError([f"{where}:1: expected a mapping with a non-empty 'queues' mapping"])
    for key in doc:
        if key not in ("priority", "defaults", "queues"):
            problem(doc, f"unknown top-level key {key!r} (known: defaults, priority, queues)")

    aging, tiers, fit = _parse_priority(doc.get("priority") or {}, doc, problem)
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        problem(doc, "'defaults' must be a mapping")
        defaults = {}
    for key in defaults:
        if key not in _DEFAULT_KEYS:
            problem(defaults, f"defaults: unknown key {key!r} (known: {', '.join(_DEFAULT_KEYS)})")

    queues = {}
    for name, node in doc["queues"].items():
        name = str(name)
        if not isinstance(node, dict):
            problem(doc["queues"], f"queue {name}: must be a mapping")
            continue
        merged = {**{"wrapup_seconds": default_wrapup_seconds}, **defaults, **node}
        policy = _parse_queue(name, node, merged, problem)
        if policy is not None:
            queues[name] = policy

    for policy in queues.values():
        for step in policy.relax:
            if step.overflow is not None and step.overflow not in queues:
                problem(doc["queues"][policy.name], f"queue {policy.name}: overflow to unknown queue {step.overflow!r}")
    problems.extend(_overflow_cycles(queues, where))
    if problems:
        raise QueueConfigError(problems)
    return QueueConfig(queues=queues, aging_seconds_per_point=aging, tier_points=tiers, path=where,
                       fit_seconds_per_level=fit)


_PRIORITY_KEYS = ("aging_seconds_per_point", "fit_seconds_per_level", "tiers")


def _parse_priority(node, doc, problem) -> tuple[float, dict[str, float], float]:
    if not isinstance(node, dict):
        problem(doc, "'priority' must be a mapping")
        return 30.0, {}, 0.0
    for key in node:
        if key not in _PRIORITY_KEYS:
            problem(node, f"priority: unknown key {key!r} (known: {', '.join(_PRIORITY_KEYS)})")
    aging = _number(node.get("aging_seconds_per_point", 30.0))
    if aging is None or aging <= 0:
        problem(node, "priority: aging_seconds_per_point must be a positive number")
        aging = 30.0
    fit = _number(node.get("fit_seconds_per_level", 0.0))
    if fit is None or fit < 0:
        problem(node, "priority: fit_seconds_per_level must be a number >= 0")
        fit = 0.0
    tiers = {}
    raw_tiers = node.get("tiers") or {}
    if not isinstance(raw_tiers, dict):
        problem(node, "priority: tiers must map a customer tier to priority points")
        raw_tiers = {}
    for tier, points in raw_tiers.items():
        value = _number(points)
        if str(tier).lower() not in TIERS:
            problem(node, f"priority: unknown tier {tier!r} (tiers: {', '.join(TIERS)})")
        elif value is None:
            problem(node, f"priority: tier {tier!r}: points must be a number, got {points!r}")
        else:
            tiers[str(tier).lower()] = value
    return aging, tiers, fit


def _parse_queue(name: str, node, merged, problem) -> QueuePolicy | None:
    who = f"queue {name}"
    for key in node:
        if key not in _QUEUE_KEYS:
            problem(node, f"{who}: unknown key {key!r} (known: {', '.join(_QUEUE_KEYS)})")
    skills = merged.get("skills")
    if isinstance(skills, str):
        skills = [skills]
    if not isinstance(skills, list) or not skills or not all(isinstance(s, str) for s in skills):
        problem(node, f"{who}: 'skills' must be a non-empty list of skill names")
        skills = []
    team = merged.get("team")
    team = None if team is None else str(team)
    numbers = {}
    for key, default, low in (("wrapup_seconds", 10.0, 0), ("affinity_wait_seconds", 20.0, 0),
                              ("announce_every_seconds", DEFAULT_ANNOUNCE_EVERY, 0),
                              ("expected_handle_seconds", DEFAULT_HANDLE_SECONDS, 1)):
        value = _number(merged.get(key, default))
        if value is None or value < low:
            problem(node, f"{who}: {key} must be a number >= {low}, got {merged.get(key)!r}")
            value = default
        numbers[key] = value
    min_prof = _proficiency(merged.get("min_proficiency", 5), node, f"{who}: min_proficiency", problem)
    relax = _parse_relax(merged.get("relax") or [], node, name, team, problem)
    return QueuePolicy(name=name, skills=tuple(skills), team=team, min_proficiency=min_prof, relax=relax, **numbers)


def _parse_relax(raw, node, name, team, problem) -> tuple[RelaxStep, ...]:
    who = f"queue {name}"
    if not isinstance(raw, list):
        problem(node, f"{who}: 'relax' must be a list of steps")
        return ()
    steps: list[RelaxStep] = []
    for step_node in raw:
        if not isinstance(step_node, dict):
            problem(node, f"{who}: relax step {step_node!r} must be a mapping")
            continue
        for key in step_node:
            if key not in _STEP_KEYS:
                problem(step_node, f"{who}: relax step: unknown key {key!r} (known: {', '.join(_STEP_KEYS)})")
        after = _number(step_node.get("after"))
        if after is None or after < 0:
            problem(step_node, f"{who}: relax step needs 'after' (seconds of waiting >= 0)")
            continue
        if steps and after <= steps[-1].after:
            problem(step_node, f"{who}: relax steps must have increasing 'after' ({after} follows {steps[-1].after})")
        if steps and steps[-1].is_terminal:
            problem(step_node, f"{who}: no step may follow an overflow/outcome step")
        min_prof = None
        if "min_proficiency" in step_node:
            min_prof = _proficiency(step_node["min_proficiency"], step_node, f"{who}: relax step min_proficiency", problem)
        any_team = step_node.get("any_team_agent", False)
        if not isinstance(any_team, bool):
            problem(step_node, f"{who}: any_team_agent must be true or false")
            any_team = False
        if any_team and team is None:
            problem(step_node, f"{who}: any_team_agent needs the queue's 'team'")
        overflow = step_node.get("overflow")
        outcome = step_node.get("outcome")
        if overflow is not None and outcome is not None:
            problem(step_node, f"{who}: a step either overflows or offers an outcome, not both")
        if outcome is not None and outcome not in OUTCOMES:
            problem(step_node, f"{who}: outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        terminal = overflow is not None or outcome is not None
        if terminal and (min_prof is not None or any_team):
            problem(step_node, f"{who}: an overflow/outcome step cannot also relax requirements")
        if not terminal and min_prof is None and not any_team:
            problem(step_node, f"{who}: relax step at {after}s changes nothing")
        if overflow is not None and str(overflow) == name:
            problem(step_node, f"{who}: a queue cannot overflow to itself")
        steps.append(RelaxStep(after, min_prof, any_team, None if overflow is None else str(overflow),
                               None if outcome is None else str(outcome)))
    return tuple(steps)


def _overflow_cycles(queues: dict[str, QueuePolicy], where: str) -> list[str]:
    # A cycle would bounce a caller between queues forever; each overflow must lead somewhere final.
    problems = []
    for start in queues:
        seen, name = [start], start
        while True:
            step = queues[name].terminal_step
            nxt = step.overflow if step is not None else None
            if nxt is None or nxt not in queues:
                break
            if nxt in seen:
                if nxt == start:
                    problems.append(f"{where}: queue {start}: overflow cycle {' -> '.join(seen + [nxt])}")
                break
            seen.append(nxt)
            name = nxt
    return problems


def _proficiency(value, node, what, problem) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_PROFICIENCY <= value <= MAX_PROFICIENCY:
        problem(node, f"{what} must be an integer {MIN_PROFICIENCY}..{MAX_PROFICIENCY}, got {value!r}")
        return MIN_PROFICIENCY
    return value


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
