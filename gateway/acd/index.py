"""The in-memory picture a gateway instance decides from: available agents bucketed by
skill and language, waiting calls sorted by rank within their (queue, skills, language)
class. It is fed from Redis (a full load at start, then every state change, ours and other
instances', by pub/sub) and answers "best agent for this call" / "best call for this
agent" without a round trip. The decision itself is matching.best_agent / best_call.

Versions keep it honest: a change older than what the index holds is ignored (an event can
arrive after our own newer write). While a reservation is in flight, the agent and the call
are held: the index does not offer them again, whatever echoes arrive meanwhile. A call
whose connect failed is not offered until its retry time (QueuedCall.retry_at).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Iterable, Iterator

from gateway.acd import matching
from gateway.acd.matching import Requirements
from gateway.acd.model import CallState, QueuedCall
from gateway.acd.queue_config import QueueConfig, QueuePolicy
from gateway.acd.reasons import MatchReason
from gateway.acd.roster import Agent, Roster
from gateway.acd.states import AgentState, AgentStatus

ANY_LANGUAGE = "*"  # bucket of every available agent, for calls that name no language
TOMBSTONE_SECONDS = 600.0


@dataclass(frozen=True)
class CallClass:
    queue: str
    skills: frozenset[str]
    language: str  # ANY_LANGUAGE when the call names none


class DispatchIndex:
    def __init__(self, roster: Roster, queues: QueueConfig):
        self.roster = roster
        self.queues = queues
        self.statuses: dict[str, AgentStatus] = {}
        self.available: dict[str, float] = {}  # agent id -> available since
        self._by_skill: dict[tuple[str, str], set[str]] = {}
        self._by_team: dict[tuple[str, str], set[str]] = {}
        self._by_language: dict[str, set[str]] = {}
        self.held_agents: set[str] = set()
        self.calls: dict[str, QueuedCall] = {}  # waiting calls only
        self._classes: dict[CallClass, list[tuple[float, float, str]]] = {}
        # Where an agent looks for calls: classes needing one of their skills, or their team's queues.
        self._classes_by_skill: dict[tuple[str, str], set[CallClass]] = {}  # ("" = no skills)
        self._classes_by_team: dict[tuple[str, str], set[CallClass]] = {}
        self._awaiting_agent: dict[str, set[str]] = {}  # last-agent affinity: agent id -> call ids
        self.held_calls: set[str] = set()
        self._requirements: dict[str, tuple] = {}  # call id -> (requirements, call, valid from, until, ...)
        self._call_versions: dict[str, int] = {}
        self._removed_at: dict[str, float] = {}

    # -- configuration ------------------------------------------------------------------------
    def set_roster(self, roster: Roster) -> None:
        """A reloaded roster: agents keep their state; skills, languages and teams are re-read."""
        self.roster = roster
        self._requirements.clear()
        self.available.clear()
        self._by_skill.clear()
        self._by_team.clear()
        self._by_language.clear()
        for agent_id, status in self.statuses.items():
            if status.state is AgentState.AVAILABLE and roster.agent(agent_id) is not None:
                self._bucket(agent_id, status.since)

    def set_queues(self, queues: QueueConfig) -> None:
        self.queues = queues
        self._requirements.clear()
        self._classes_by_team.clear()  # a queue's team may have changed
        for cls in self._classes:
            self._file_class(cls, self._classes_by_team, self._team_keys(cls))

    def policy(self, queue: str) -> QueuePolicy:
        return self.queues.queues[queue]

    # -- agents -------------------------------------------------------------------------
    def status(self, agent_id: str) -> AgentStatus:
        return self.statuses.get(agent_id) or AgentStatus(agent_id)

    def apply_agent(self, status: AgentStatus, *, force: bool = False) -> bool:
        """Take in an agent's state if it is newer than what we hold (or, with force, what Redis
        says right now). True when it was taken."""
        known = self.statuses.get(status.agent_id)
        if not force and known is not None and known.version >= status.version:
            return False
        self.statuses[status.agent_id] = status
        if status.agent_id in self.available:
            self._unbucket(status.agent_id)
        if status.state is AgentState.AVAILABLE and self.roster.agent(status.agent_id) is not None:
            self._bucket(status.agent_id, status.since)
        return True

    def hold_agent(self, agent_id: str) -> None:
        self.held_agents.add(agent_id)

    def unhold_agent(self, agent_id: str) -> None:
        self.held_agents.discard(agent_id)

    def is_offerable(self, agent_id: str) -> bool:
        return agent_id in self.available and agent_id not in self.held_agents

    def agents_in(self, state: AgentState) -> Iterator[AgentStatus]:
        return (s for s in self.statuses.values() if s.state is state)

    def _bucket(self, agent_id: str, since: float) -> None:
        agent = self.roster.agent(agent_id)
        self.available[agent_id] = since
        for lang in (*agent.languages, ANY_LANGUAGE):
            self._by_language.setdefault(lang, set()).add(agent_id)
            self._by_team.setdefault((agent.team, lang), set()).add(agent_id)
            for skill in agent.skills:
                self._by_skill.setdefault((skill, lang), set()).add(agent_id)

    def _unbucket(self, agent_id: str) -> None:
        # Only agents of the current roster are bucketed (set_roster rebuilds the buckets).
        self.available.pop(agent_id, None)
        agent = self.roster.agent(agent_id)
        if agent is None:
            return
        for lang in (*agent.languages, ANY_LANGUAGE):
            self._by_language.get(lang, set()).discard(agent_id)
            self._by_team.get((agent.team, lang), set()).discard(agent_id)
            for skill in agent.skills:
                self._by_skill.get((skill, lang), set()).discard(agent_id)

    # -- calls ----------------------------------------------------------------------------
    def apply_call(self, call: QueuedCall, now: float = 0.0, *, force: bool = False) -> bool:
        """Take in a call's state if newer (or, with force, as Redis has it now): a waiting call
        joins its class, any other leaves."""
        if not force and self._call_versions.get(call.call_id, 0) >= call.version:
            return False
        self._call_versions[call.call_id] = call.version
        self._drop_call(call.call_id)
        if call.state is CallState.WAITING and call.queue in self.queues.queues:
            self._add_call(call)
        else:
            self._removed_at[call.call_id] = now
        return True

    def remove_call(self, call_id: str, version: int, now: float = 0.0) -> bool:
        """The call is gone for good (ended, abandoned, taken out of the queue)."""
        if self._call_versions.get(call_id, 0) >= version:
            return False
        self._call_versions[call_id] = version
        self._drop_call(call_id)
        self._removed_at[call_id] = now
        return True

    def hold_call(self, call_id: str) -> None:
        self.held_calls.add(call_id)

    def unhold_call(self, call_id: str) -> None:
        self.held_calls.discard(call_id)

    def forget_removed(self, now: float) -> None:
        """Drop version memory of calls removed long ago (it only guards against late echoes)."""
        for call_id, at in list(self._removed_at.items()):
            if now - at > TOMBSTONE_SECONDS:
                del self._removed_at[call_id]
                if call_id not in self.calls:
                    self._call_versions.pop(call_id, None)

    def _class_of(self, call: QueuedCall) -> CallClass:
        return CallClass(call.queue, frozenset(call.skills), call.language or ANY_LANGUAGE)

    def _add_call(self, call: QueuedCall) -> None:
        self.calls[call.call_id] = call
        cls = self._class_of(call)
        entries = self._classes.get(cls)
        if entries is None:
            entries = self._classes[cls] = []
            self._file_class(cls, self._classes_by_skill, self._skill_keys(cls))
            self._file_class(cls, self._classes_by_team, self._team_keys(cls))
        bisect.insort(entries, (call.rank_key, call.enqueued_at, call.call_id))
        if call.customer.wants_last_agent:
            self._awaiting_agent.setdefault(call.customer.last_agent_id, set()).add(call.call_id)

    def _drop_call(self, call_id: str) -> None:
        call = self.calls.pop(call_id, None)
        self.held_calls.discard(call_id)
        self._requirements.pop(call_id, None)
        if call is None:
            return
        cls = self._class_of(call)
        entries = self._classes[cls]
        entry = (call.rank_key, call.enqueued_at, call.call_id)
        i = bisect.bisect_left(entries, entry)
        if i < len(entries) and entries[i] == entry:
            del entries[i]
        if not entries:
            del self._classes[cls]
            for key in self._skill_keys(cls):
                self._classes_by_skill[key].discard(cls)
            for key in self._team_keys(cls):
                self._classes_by_team.get(key, set()).discard(cls)
        if call.customer.wants_last_agent:
            waiting = self._awaiting_agent.get(call.customer.last_agent_id)
            if waiting is not None:
                waiting.discard(call_id)
                if not waiting:
                    del self._awaiting_agent[call.customer.last_agent_id]

    @staticmethod
    def _skill_keys(cls: CallClass) -> list[tuple[str, str]]:
        return [(skill, cls.language) for skill in cls.skills] or [("", cls.language)]

    def _team_keys(self, cls: CallClass) -> list[tuple[str, str]]:
        policy = self.queues.queues.get(cls.queue)
        return [(policy.team, cls.language)] if policy is not None and policy.team else []

    @staticmethod
    def _file_class(cls: CallClass, table: dict, keys) -> None:
        for key in keys:
            table.setdefault(key, set()).add(cls)

    def _classes_for(self, agent: Agent) -> set[CallClass]:
        found: set[CallClass] = set()
        by_skill, by_team = self._classes_by_skill, self._classes_by_team
        for lang in (*agent.languages, ANY_LANGUAGE):
            for skill in (*agent.skills, ""):
                found.update(by_skill.get((skill, lang), ()))
            found.update(by_team.get((agent.team, lang), ()))
        return found

    def waiting_in(self, queue: str) -> list[QueuedCall]:
        """The queue's waiting calls, most urgent first."""
        calls = [self.calls[cid] for cls, entries in self._classes.items() if cls.queue == queue
                 for _, _, cid in entries]
        return sorted(calls, key=lambda c: (c.rank_key, c.enqueued_at, c.call_id))

    def waiting_count(self, queue: str) -> int:
        return sum(len(entries) for cls, entries in self._classes.items() if cls.queue == queue)

    def available_for(self, policy: QueuePolicy) -> int:
        """Available agents with all the queue's skills at its first-stage minimum."""
        count = 0
        for agent_id in self.available:
            agent = self.roster.agent(agent_id)
            if all(agent.skills.get(s, 0) >= policy.min_proficiency for s in policy.skills):
                count += 1
        return count

    def position(self, call: QueuedCall) -> int:
        """1 for the call that will be served first in its queue."""
        entry = (call.rank_key, call.enqueued_at, call.call_id)
        return 1 + sum(bisect.bisect_left(entries, entry)
                       for cls, entries in self._classes.items() if cls.queue == call.queue)

    # -- decisions --------------------------------------------------------------------------
    def requirements(self, call: QueuedCall, now: float) -> Requirements:
        last_id = call.customer.last_agent_id
        last = self.roster.agent(last_id) if last_id else None
        logged_in = last is not None and self.status(last.id).logged_in
        # Requirements only change at known times (and when the last agent logs in or out), so
        # an agent freeing up re-checks many calls without recomputing each one.
        cached = self._requirements.get(call.call_id)
        if cached is not None:
            req, for_call, valid_from, valid_until, was_logged_in = cached
            if for_call is call and valid_from <= now < valid_until and was_logged_in == logged_in:
                return req
        policy = self.policy(call.queue)
        req = matching.requirements_at(call, policy, now, last_agent=last, last_agent_logged_in=logged_in)
        until = matching.next_change_at(call, policy, now)
        self._requirements[call.call_id] = (req, call, now, float("inf") if until is None else until, logged_in)
        return req

    def best_agent_for(self, call: QueuedCall, now: float) -> Agent | None:
        choice = self.choose_agent_for(call, now)
        return choice[0] if choice is not None else None

    def choose_agent_for(self, call: QueuedCall, now: float) -> tuple[Agent, MatchReason] | None:
        """The best agent for the call, and why (kept with the reservation for the screen pop)."""
        if call.retry_at > now:
            return None  # a failed connect's backoff: the ticker places it when that is over
        req = self.requirements(call, now)
        choice = matching.choose_agent(req, self._candidates(req))
        if choice is None:
            return None
        return choice.agent, matching.explain_agent_choice(req, choice, now)

    def explain_call_for(self, agent: Agent, call: QueuedCall, now: float) -> MatchReason:
        """Why a free agent gets `call` (see best_call_for)."""
        since = self.available.get(agent.id, now)
        return matching.explain_call_choice(agent, self.requirements(call, now), since, now)

    def _candidates(self, req: Requirements) -> Iterator[tuple[Agent, float]]:
        if req.only_agent is not None:
            ids: Iterable[str] = (req.only_agent,) if req.only_agent in self.available else ()
        else:
            lang = req.language or ANY_LANGUAGE
            if req.skills:
                # Every eligible skilled agent is in the bucket of each required skill: use the smallest.
                ids = min((self._by_skill.get((skill, lang), ()) for skill in req.skills), key=len)
            else:
                ids = self._by_language.get(lang, ())
            if req.team is not None:
                ids = set(ids) | self._by_team.get((req.team, lang), set())
        agent_of, held, available = self.roster.agent, self.held_agents, self.available
        for agent_id in ids:
            if agent_id not in held:
                yield agent_of(agent_id), available[agent_id]

    def best_call_for(self, agent_id: str, now: float) -> QueuedCall | None:
        agent = self.roster.agent(agent_id)
        if agent is None or not self.calls:
            return None
        return matching.best_call(agent, self._offers(agent, now), self.queues.fit_seconds_per_level)

    def _offers(self, agent: Agent, now: float) -> Iterator[tuple[QueuedCall, Requirements]]:
        # Within a class calls are in rank order and share their skills (so the agent's fit),
        # so the first one this agent may take is the class's best for them.
        held, calls, queues = self.held_calls, self.calls, self.queues.queues
        agent_skills = agent.skills.keys()
        for cls in self._classes_for(agent):
            if not (cls.skills <= agent_skills or queues[cls.queue].team == agent.team):
                continue
            for _, _, call_id in self._classes[cls]:
                if call_id in held:
                    continue
                call = calls[call_id]
                if call.retry_at > now:
                    continue
                req = self.requirements(call, now)
                if matching.is_eligible(agent, req):
                    yield call, req
                    break
        for call_id in self._awaiting_agent.get(agent.id, ()):
            if call_id not in held and calls[call_id].retry_at <= now:
                call = calls[call_id]
                yield call, self.requirements(call, now)

    def agents_serving(self, policy: QueuePolicy) -> int:
        """Logged-in agents with the queue's skills (for the estimated wait)."""
        count = 0
        for agent_id, status in self.statuses.items():
            agent = self.roster.agent(agent_id)
            if status.logged_in and agent is not None and all(s in agent.skills for s in policy.skills):
                count += 1
        return count
