"""Who serves whom: pure functions, no I/O, no clock of their own.

The gateway (through the in-memory index) and the simulation benchmark both decide with
these functions.

- Hard constraints: the caller's language always; the call's skills at the stage's minimum
  proficiency, until a relax stage also admits any agent of the queue's team.
- Among eligible agents: best proficiency in the call's skills (weakest skill first, then
  the sum), then the longest idle, then the agent id (so the choice is deterministic).
- Among calls an agent could take: a call waiting for this very agent (last-agent
  affinity), then the highest effective priority, which grows with waiting time, plus
  (if configured) a small credit for how well the agent fits the call's skills.
- Priority ages linearly: every `aging_seconds_per_point` of waiting is worth one point. So
  the order of two waiting calls never changes with time, and a queue can be kept sorted
  by one static key: rank_key = enqueued_at - priority * aging_seconds_per_point.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from gateway.acd.model import QueuedCall
from gateway.acd.queue_config import QueuePolicy, RelaxStep
from gateway.acd.reasons import (BEST_PROFICIENCY, FIRST_FREE_AGENT, LAST_AGENT, LONGEST_IDLE, MAX_SKILLS,
                                 ONLY_CANDIDATE, TIE_BREAK, MatchReason)
from gateway.acd.roster import Agent


@dataclass(frozen=True)
class Requirements:
    """What an agent must offer to take a call right now."""

    skills: tuple[str, ...]
    language: str | None
    min_proficiency: int
    team: str | None = None  # a relax stage admits any agent of this team as well
    only_agent: str | None = None  # last-agent affinity: nobody else, for now
    stage: int = 0  # index into the queue's relax stages


# -- priority ------------------------------------------------------------------------------

def call_priority(route_priority: float, tier: str | None, tier_points: Mapping[str, float]) -> float:
    """The IVR's priority plus the customer tier's points."""
    return float(route_priority or 0) + (tier_points.get(tier.lower(), 0.0) if tier else 0.0)


def rank_key(enqueued_at: float, priority: float, aging_seconds_per_point: float) -> float:
    """Lower is served first. Equal to the time at which the call's effective priority was 0."""
    return enqueued_at - priority * aging_seconds_per_point


def effective_priority(call: QueuedCall, now: float, aging_seconds_per_point: float) -> float:
    """priority + waited / aging_seconds_per_point (plus any head-of-queue boost after RONA)."""
    return (now - call.rank_key) / aging_seconds_per_point


# -- requirements as the call waits ------------------------------------------------------

def stage_index(policy: QueuePolicy, waited: float) -> int:
    index = 0
    for i, stage in enumerate(policy.stages):
        if waited >= stage.after:
            index = i
    return index


def requirements_at(call: QueuedCall, policy: QueuePolicy, now: float, *,
                    last_agent: Agent | None = None, last_agent_logged_in: bool = False) -> Requirements:
    """The call's requirements after waiting in its queue until `now`.

    `last_agent` is the roster entry of the customer's last agent (if any) and whether they
    are logged in; the call waits for them for the queue's affinity window, but only if they
    could take the call anyway and have not let it ring out already.
    """
    waited = now - call.queue_entered_at
    index = stage_index(policy, waited)
    if call.required_agent:  # transferred to a named agent: theirs alone, whatever they speak
        return Requirements((), None, 0, None, call.required_agent, index)
    stage = policy.stages[index]
    base = Requirements(skills=call.skills, language=call.language, min_proficiency=stage.min_proficiency,
                        team=policy.team if stage.any_team_agent else None, stage=index)
    if (last_agent is not None and last_agent_logged_in and call.customer.wants_last_agent
            and last_agent.id == call.customer.last_agent_id and last_agent.id not in call.rona_agents
            and waited < policy.affinity_wait_seconds and is_eligible(last_agent, base)):
        return Requirements(base.skills, base.language, base.min_proficiency, base.team, last_agent.id, index)
    return base


def next_change_at(call: QueuedCall, policy: QueuePolicy, now: float | None = None) -> float | None:
    """When the call's requirements next change after `now` (a relax stage, the end of the
    affinity window); None when they never will. The last agent logging in or out aside."""
    times = [call.queue_entered_at + s.after for s in policy.stages[1:]]
    if call.customer.wants_last_agent:
        times.append(call.queue_entered_at + policy.affinity_wait_seconds)
    if now is not None:
        times = [t for t in times if t > now]
    return min(times, default=None)


def due_terminal_step(call: QueuedCall, policy: QueuePolicy, now: float) -> RelaxStep | None:
    """The overflow/voicemail/callback step, once the call has waited long enough for it."""
    step = policy.terminal_step
    if step is not None and now - call.queue_entered_at >= step.after:
        return step
    return None


# -- eligibility and preference ----------------------------------------------------------

def is_eligible(agent: Agent, req: Requirements) -> bool:
    if req.only_agent is not None and agent.id != req.only_agent:
        return False
    if req.language is not None and req.language not in agent.languages:
        return False
    skills = agent.skills
    if all(skills.get(skill, 0) >= req.min_proficiency for skill in req.skills):
        return True
    return req.team is not None and agent.team == req.team


def skill_score(agent: Agent, skills: tuple[str, ...]) -> tuple[int, int]:
    """(weakest proficiency, total proficiency) in the call's skills; 0 for a missing skill."""
    if not skills:
        return (0, 0)
    levels = [agent.skills.get(skill, 0) for skill in skills]
    return (min(levels), sum(levels))


def best_agent(req: Requirements, candidates: Iterable[tuple[Agent, float]]) -> Agent | None:
    """The eligible candidate that serves the call best. Candidates are (agent, available_since)."""
    choice = choose_agent(req, candidates)
    return choice.agent if choice is not None else None


@dataclass(frozen=True)
class AgentChoice:
    """The best eligible agent, and what it took to beat the others (for the reason)."""

    agent: Agent
    available_since: float
    candidates: int  # eligible agents considered
    key: tuple
    runner_up_key: tuple | None


def choose_agent(req: Requirements, candidates: Iterable[tuple[Agent, float]]) -> AgentChoice | None:
    """best_agent, keeping the runner-up's key and the count, so the choice can be explained."""
    best, best_key, best_since, second_key, count = None, None, 0.0, None, 0
    for agent, available_since in candidates:
        if not is_eligible(agent, req):
            continue
        count += 1
        low, total = skill_score(agent, req.skills)
        key = (-low, -total, available_since, agent.id)
        if best_key is None or key < best_key:
            second_key = best_key
            best, best_key, best_since = agent, key, available_since
        elif second_key is None or key < second_key:
            second_key = key
    if best is None:
        return None
    return AgentChoice(best, best_since, count, best_key, second_key)


def _reason(rule: str, agent: Agent, req: Requirements, candidates: int, idle: float) -> MatchReason:
    skills = req.skills[:MAX_SKILLS]
    return MatchReason(rule=rule, candidates=candidates, stage=req.stage, min_proficiency=req.min_proficiency,
                       team=req.team, skills=skills, language=req.language,
                       proficiency=tuple((s, agent.skills.get(s, 0)) for s in skills),
                       idle_seconds=round(max(0.0, idle), 1))


def explain_agent_choice(req: Requirements, choice: AgentChoice, now: float) -> MatchReason:
    """Why `choice.agent` got the call: the first part of the ranking key that beat the runner-up."""
    if req.only_agent is not None:
        rule = LAST_AGENT
    elif choice.runner_up_key is None:
        rule = ONLY_CANDIDATE
    elif choice.key[:2] != choice.runner_up_key[:2]:
        rule = BEST_PROFICIENCY
    elif choice.key[2] != choice.runner_up_key[2]:
        rule = LONGEST_IDLE
    else:
        rule = TIE_BREAK
    return _reason(rule, choice.agent, req, choice.candidates, now - choice.available_since)


def explain_call_choice(agent: Agent, req: Requirements, available_since: float, now: float) -> MatchReason:
    """Why a free agent got this call: they came free first while it waited (or were its last agent)."""
    rule = LAST_AGENT if req.only_agent == agent.id else FIRST_FREE_AGENT
    return _reason(rule, agent, req, 1, now - available_since)


def best_call(agent: Agent, offers: Iterable[tuple[QueuedCall, Requirements]],
              fit_seconds_per_level: float = 0.0) -> QueuedCall | None:
    """The call this agent should take: offers are (call, its requirements now).

    A call waiting for this very agent comes first; then the highest effective priority, in
    which each level of the agent's (weakest) proficiency in the call's skills counts as
    `fit_seconds_per_level` of extra waiting: the pair that serves best, while a call that
    has waited much longer still goes first.
    """
    best, best_key = None, None
    for call, req in offers:
        if not is_eligible(agent, req):
            continue
        rank = call.rank_key
        if fit_seconds_per_level:
            rank -= fit_seconds_per_level * skill_score(agent, req.skills)[0]
        key = (req.only_agent != agent.id, rank, call.enqueued_at, call.call_id)
        if best_key is None or key < best_key:
            best, best_key = call, key
    return best


def estimated_wait(position: int, agents_serving: int, handle_seconds: float) -> float:
    """A plain estimate for announcements: the calls ahead, shared out over the serving agents."""
    if position <= 0:
        return 0.0
    return position * handle_seconds / max(1, agents_serving)
