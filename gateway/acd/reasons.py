"""Why the ACD gave a call to an agent: a small, bounded record kept with the reservation.

The dispatcher writes one with every booking (QueuedCall.match), so the call layer can show
the agent, in the screen pop, which rule decided. Plain values, no I/O; matching.py builds
them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

# The rule that decided, from the call's side (an agent was chosen for a waiting call) or
# the agent's side (an agent came free and this call was the one for them).
LAST_AGENT = "last_agent"  # the customer's last agent (repeat caller with an open case)
ONLY_CANDIDATE = "only_candidate"  # the one available agent who met the requirements
BEST_PROFICIENCY = "best_proficiency"  # the most proficient in the call's skills
LONGEST_IDLE = "longest_idle"  # as proficient as the next best, and idle longer
TIE_BREAK = "tie_break"  # equal in everything: the agent id decided
FIRST_FREE_AGENT = "first_free_agent"  # the call waited; this agent came free first
RULES = (LAST_AGENT, ONLY_CANDIDATE, BEST_PROFICIENCY, LONGEST_IDLE, TIE_BREAK, FIRST_FREE_AGENT)

MAX_SKILLS = 16  # skills come from the queue configuration; the bound keeps a record small


@dataclass(frozen=True)
class MatchReason:
    rule: str
    candidates: int  # eligible available agents the decision chose among
    stage: int  # index of the queue's relax stage at the decision
    min_proficiency: int  # what that stage asked of the call's skills
    team: str | None  # the stage also admitted any agent of this team
    skills: tuple[str, ...]  # the call's skills
    language: str | None  # the caller's language, which the agent speaks
    proficiency: tuple[tuple[str, int], ...]  # the chosen agent's level in each of the call's skills
    idle_seconds: float  # how long the chosen agent had been available

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "candidates": self.candidates, "stage": self.stage,
                "min_proficiency": self.min_proficiency, "team": self.team, "skills": list(self.skills),
                "language": self.language, "proficiency": dict(self.proficiency),
                "idle_seconds": self.idle_seconds}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "MatchReason | None":
        if not data:
            return None
        proficiency = data.get("proficiency") or {}
        return cls(rule=str(data.get("rule", "")), candidates=int(data.get("candidates", 0)),
                   stage=int(data.get("stage", 0)), min_proficiency=int(data.get("min_proficiency", 0)),
                   team=data.get("team"), skills=tuple(data.get("skills") or ())[:MAX_SKILLS],
                   language=data.get("language"),
                   proficiency=tuple((str(k), int(v)) for k, v in list(proficiency.items())[:MAX_SKILLS]),
                   idle_seconds=float(data.get("idle_seconds", 0.0)))
