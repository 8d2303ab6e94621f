"""The agent roster: teams, agents, their phones, languages and skills with proficiency.

The YAML format is shared with the IVR checker (which checks route skills against
`Roster.all_skills()`):

    teams:
      - {id: billing, name: Billing, supervisor: Serkan Aydemir}
    agents:
      - {id: "1001", name: Nazlı Yılmaz, endpoint: "1001", team: billing,
         languages: [tr], skills: {billing: 9, general: 6}}

Every finding names the file, the line and the agent; all findings are reported at once.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from gateway.acd.errors import RosterError
from gateway.acd.schema import ISO_639_1, MAX_PROFICIENCY, MIN_PROFICIENCY, AgentEntry, RosterFile, TeamEntry
from gateway.yamlfile import YamlFileError, field_value, issues, line_at, load_yaml

__all__ = ["Agent", "ISO_639_1", "MAX_PROFICIENCY", "MIN_PROFICIENCY", "Roster", "Team", "load_roster",
           "parse_roster"]


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    supervisor: str = ""


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    endpoint: str  # the PJSIP endpoint the connect context dials, e.g. "1001"
    team: str
    languages: tuple[str, ...]
    skills: dict[str, int] = field(default_factory=dict)  # skill -> proficiency 1..10

    def __hash__(self) -> int:  # skills is a dict; an agent is identified by its id
        return hash(self.id)

    def proficiency(self, skill: str) -> int:
        """0 when the agent lacks the skill."""
        return self.skills.get(skill, 0)

    def speaks(self, language: str | None) -> bool:
        return language is None or language in self.languages


@dataclass(frozen=True)
class Roster:
    teams: tuple[Team, ...]
    agents: tuple[Agent, ...]
    path: str = ""
    _by_id: dict = field(default_factory=dict, repr=False, compare=False)
    _by_endpoint: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        self._by_id.update({a.id: a for a in self.agents})
        self._by_endpoint.update({a.endpoint: a for a in self.agents})

    def agent(self, agent_id: str) -> Agent | None:
        return self._by_id.get(agent_id)

    def by_endpoint(self, endpoint: str) -> Agent | None:
        return self._by_endpoint.get(endpoint)

    def team(self, team_id: str) -> Team | None:
        return next((t for t in self.teams if t.id == team_id), None)

    def all_skills(self) -> set[str]:
        return {skill for agent in self.agents for skill in agent.skills}

    def all_languages(self) -> set[str]:
        return {lang for agent in self.agents for lang in agent.languages}


def load_roster(path: str | os.PathLike) -> Roster:
    """Read and validate a roster file; raises RosterError listing every problem."""
    try:
        doc = load_yaml(path)
    except YamlFileError as exc:
        raise RosterError([str(exc)]) from None
    return parse_roster(doc, str(Path(path)))


def parse_roster(doc, where: str) -> Roster:
    """Every problem is reported at once, in file order, each on its team's or agent's line."""
    if not isinstance(doc, dict):
        raise RosterError([f"{where}:1: expected a mapping with 'teams' and 'agents'"])
    problems: list[tuple[int, str]] = []
    try:
        model = RosterFile.model_validate(doc)
    except ValidationError as exc:
        model = None
        problems += [(line_at(doc, issue.loc[:2]), _explain(issue, doc)) for issue in issues(exc)]
    problems += _check_across_entries(doc)
    if problems:
        problems.sort(key=lambda p: p[0])
        raise RosterError([f"{where}:{line}: {message}" for line, message in problems])
    teams = tuple(Team(t.id, t.name or t.id, t.supervisor) for t in model.teams)
    agents = tuple(Agent(a.id, a.name or a.id, a.endpoint, a.team, a.languages, dict(a.skills)) for a in model.agents)
    return Roster(teams=teams, agents=agents, path=where)


def _entries(doc, key: str) -> list:
    entries = doc.get(key)
    return list(enumerate(entries)) if isinstance(entries, list) else []


def _who(doc, loc) -> str:
    kind = "team" if loc[0] == "teams" else "agent"
    entry = doc[loc[0]][loc[1]]
    entry_id = field_value(TeamEntry if kind == "team" else AgentEntry, "id", entry)
    return f"{kind} {entry_id}" if entry_id else f"{kind} #{loc[1] + 1}"


def _explain(issue, doc) -> str:
    loc, kind = issue.loc, issue.type
    if len(loc) == 1:
        if kind == "extra_forbidden":
            return f"unknown top-level key {loc[0]!r} (known: agents, teams)"
        return f"'{loc[0]}' must be a non-empty list"
    if len(loc) == 2:
        return f"{'team' if loc[0] == 'teams' else 'agent'} entry {issue.input!r} must be a mapping"
    who, key = _who(doc, loc), loc[2]
    model = TeamEntry if loc[0] == "teams" else AgentEntry
    if kind == "extra_forbidden":
        return f"{who}: unknown key {key!r} (known: {', '.join(model.model_fields)})"
    if key == "id" and kind == "missing":
        return f"{loc[0][:-1]} without an id"
    if key == "endpoint" and kind == "missing":
        return f"{who}: missing endpoint (the PJSIP endpoint, e.g. 1001)"
    if key == "languages":
        if len(loc) > 3:
            return f"{who}: unknown language code {issue.input!r} (use ISO 639-1, e.g. tr, en)"
        return f"{who}: 'languages' must be a non-empty list of ISO 639-1 codes, e.g. [tr, en]"
    if key == "skills":
        if len(loc) > 4:  # (..., skill, '[key]'): the skill's name itself
            return f"{who}: {loc[3]!r} is not a skill name (letters, digits, _ and -)"
        if len(loc) == 4:
            return (f"{who}: proficiency for {str(loc[3])!r} must be an integer "
                    f"{MIN_PROFICIENCY}..{MAX_PROFICIENCY}, got {issue.input!r}")
        return f"{who}: 'skills' must be a non-empty mapping of skill to proficiency, e.g. {{billing: 9}}"
    if kind == "missing":
        return f"{who}: missing {key}"
    return f"{who}: {key}: {issue.message}"


def _check_across_entries(doc) -> list[tuple[int, str]]:
    """Ids and endpoints are unique and teams exist: checked on each entry's valid fields,
    so a broken entry does not hide the others' problems."""
    problems = []
    team_ids: set[str] = set()
    for i, entry in _entries(doc, "teams"):
        team_id = field_value(TeamEntry, "id", entry)
        if team_id in team_ids:
            problems.append((line_at(doc, ("teams", i)), f"team {team_id}: duplicate team id"))
        elif team_id:
            team_ids.add(team_id)
    first_line: dict[str, int] = {}
    endpoints: dict[str, str] = {}
    for i, entry in _entries(doc, "agents"):
        agent_id = field_value(AgentEntry, "id", entry)
        if not agent_id:
            continue
        line, who = line_at(doc, ("agents", i)), f"agent {agent_id}"
        if agent_id in first_line:
            problems.append((line, f"{who}: duplicate agent id (first on line {first_line[agent_id]})"))
        first_line.setdefault(agent_id, line)
        endpoint = field_value(AgentEntry, "endpoint", entry)
        if endpoint in endpoints:
            problems.append((line, f"{who}: endpoint {endpoint} is already agent {endpoints[endpoint]}'s"))
        elif endpoint:
            endpoints[endpoint] = agent_id
        team = field_value(AgentEntry, "team", entry)
        if team and team not in team_ids:
            problems.append((line, f"{who}: unknown team {team!r} (teams: {', '.join(sorted(team_ids))})"))
    return problems
