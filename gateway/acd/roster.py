"""The agent roster: teams, agents, their phones, languages and skills with proficiency.

The YAML format is shared with the IVR checker (which checks route skills against
`Roster.all_skills()`):

    teams:
      - {id: billing, name: Billing, supervisor: Serkan Aydemir}
    agents:
      - {id: "1001", name: Ayşe Yılmaz, endpoint: "1001", team: billing,
         languages: [tr], skills: {billing: 9, general: 6}}

Every finding names the file, the line and the agent; all findings are reported at once.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gateway.acd.errors import RosterError
from gateway.acd.yaml_lines import YamlFileError, line_of, load_yaml_with_lines

MIN_PROFICIENCY = 1
MAX_PROFICIENCY = 10

# ISO 639-1: the codes a caller's language (from the IVR) and an agent's languages use.
ISO_639_1 = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu
hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb
lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv ny oc oj om
or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss st su sv sw
ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
""".split())


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
    path = Path(path)
    try:
        doc = load_yaml_with_lines(path)
    except YamlFileError as exc:
        raise RosterError([str(exc)]) from None
    return parse_roster(doc, str(path))


def parse_roster(doc, where: str) -> Roster:
    problems: list[str] = []

    def problem(node, message: str) -> None:
        problems.append(f"{where}:{line_of(node)}: {message}")

    if not isinstance(doc, dict):
        raise RosterError([f"{where}:1: expected a mapping with 'teams' and 'agents'"])
    for key in doc:
        if key not in ("teams", "agents"):
            problem(doc, f"unknown top-level key {key!r} (known: agents, teams)")
    teams = _parse_teams(doc.get("teams"), doc, problem)
    agents = _parse_agents(doc.get("agents"), doc, {t.id for t in teams}, problem)
    if problems:
        raise RosterError(problems)
    return Roster(teams=tuple(teams), agents=tuple(agents), path=where)


def _parse_teams(raw, doc, problem) -> list[Team]:
    if not isinstance(raw, list) or not raw:
        problem(doc, "'teams' must be a non-empty list")
        return []
    teams, seen = [], set()
    for node in raw:
        if not isinstance(node, dict):
            problem(doc, f"team entry {node!r} must be a mapping")
            continue
        team_id = _text(node.get("id"))
        if not team_id:
            problem(node, "team without an id")
            continue
        for key in node:
            if key not in ("id", "name", "supervisor"):
                problem(node, f"team {team_id}: unknown key {key!r} (known: id, name, supervisor)")
        if team_id in seen:
            problem(node, f"team {team_id}: duplicate team id")
        seen.add(team_id)
        teams.append(Team(team_id, _text(node.get("name")) or team_id, _text(node.get("supervisor"))))
    return teams


_AGENT_KEYS = ("id", "name", "endpoint", "team", "languages", "skills")


def _parse_agents(raw, doc, team_ids: set[str], problem) -> list[Agent]:
    if not isinstance(raw, list) or not raw:
        problem(doc, "'agents' must be a non-empty list")
        return []
    agents: list[Agent] = []
    ids: dict[str, int] = {}
    endpoints: dict[str, str] = {}
    for node in raw:
        if not isinstance(node, dict):
            problem(doc, f"agent entry {node!r} must be a mapping")
            continue
        agent_id = _text(node.get("id"))
        if not agent_id:
            problem(node, "agent without an id")
            continue
        who = f"agent {agent_id}"
        for key in node:
            if key not in _AGENT_KEYS:
                problem(node, f"{who}: unknown key {key!r} (known: {', '.join(_AGENT_KEYS)})")
        if agent_id in ids:
            problem(node, f"{who}: duplicate agent id (first on line {ids[agent_id]})")
        ids.setdefault(agent_id, line_of(node))
        endpoint = _text(node.get("endpoint"))
        if not endpoint:
            problem(node, f"{who}: missing endpoint (the PJSIP endpoint, e.g. 1001)")
        elif endpoint in endpoints:
            problem(node, f"{who}: endpoint {endpoint} is already agent {endpoints[endpoint]}'s")
        else:
            endpoints[endpoint] = agent_id
        team = _text(node.get("team"))
        if team not in team_ids:
            problem(node, f"{who}: unknown team {team!r} (teams: {', '.join(sorted(team_ids))})")
        languages = _parse_languages(node.get("languages"), node, who, problem)
        skills = _parse_skills(node.get("skills"), node, who, problem)
        agents.append(Agent(agent_id, _text(node.get("name")) or agent_id, endpoint, team, languages, skills))
    return agents


def _parse_languages(raw, node, who, problem) -> tuple[str, ...]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not raw:
        problem(node, f"{who}: 'languages' must be a non-empty list of ISO 639-1 codes, e.g. [tr, en]")
        return ()
    languages = []
    for code in raw:
        code_text = _text(code).lower()
        if code_text not in ISO_639_1:
            problem(node, f"{who}: unknown language code {code!r} (use ISO 639-1, e.g. tr, en)")
        elif code_text not in languages:
            languages.append(code_text)
    return tuple(languages)


def _parse_skills(raw, node, who, problem) -> dict[str, int]:
    if not isinstance(raw, dict) or not raw:
        problem(node, f"{who}: 'skills' must be a non-empty mapping of skill to proficiency, e.g. {{billing: 9}}")
        return {}
    skills = {}
    for skill, level in raw.items():
        name = _text(skill)
        if isinstance(level, bool) or not isinstance(level, int) or not MIN_PROFICIENCY <= level <= MAX_PROFICIENCY:
            problem(node, f"{who}: proficiency for {name!r} must be an integer "
                          f"{MIN_PROFICIENCY}..{MAX_PROFICIENCY}, got {level!r}")
            continue
        skills[name] = level
    return skills


def _text(value) -> str:
    # YAML reads `endpoint: 1001` as an int; ids and endpoints are strings.
    return "" if value is None else str(value).strip()
