"""Why the ACD chose an agent: the rule that decided, as the agent's screen pop shows it."""
from hypothesis import given, strategies as st

from gateway.acd import matching, reasons
from gateway.acd.matching import Requirements
from gateway.acd.model import CustomerFacts, QueuedCall
from gateway.acd.reasons import MatchReason
from gateway.acd.roster import Agent

REQ = Requirements(("billing",), "tr", 5)


def agent(agent_id, level, languages=("tr",), team="billing"):
    return Agent(agent_id, agent_id, agent_id, team, tuple(languages), {"billing": level})


def explain(req, candidates, now=1000.0):
    choice = matching.choose_agent(req, candidates)
    return choice.agent, matching.explain_agent_choice(req, choice, now)


def test_the_most_proficient_agent_wins_by_proficiency_with_their_level_and_idle_time():
    chosen, why = explain(REQ, [(agent("a7", 7), 100.0), (agent("a9", 9), 940.0), (agent("en", 10, ["en"]), 0.0)])
    assert chosen.id == "a9"
    assert why.rule == reasons.BEST_PROFICIENCY
    assert why.candidates == 2  # the English-only agent was never a candidate
    assert dict(why.proficiency) == {"billing": 9} and why.idle_seconds == 60.0
    assert (why.skills, why.language, why.min_proficiency, why.stage) == (("billing",), "tr", 5, 0)


def test_equal_proficiency_is_decided_by_the_longest_idle():
    chosen, why = explain(REQ, [(agent("recent", 8), 990.0), (agent("idle", 8), 400.0)])
    assert (chosen.id, why.rule, why.idle_seconds) == ("idle", reasons.LONGEST_IDLE, 600.0)


def test_a_single_eligible_agent_is_the_only_candidate():
    chosen, why = explain(REQ, [(agent("weak", 3), 0.0), (agent("ok", 5), 10.0)])
    assert (chosen.id, why.rule, why.candidates) == ("ok", reasons.ONLY_CANDIDATE, 1)


def test_identical_agents_are_told_apart_by_id_and_the_reason_says_so():
    chosen, why = explain(REQ, [(agent("b", 6), 5.0), (agent("a", 6), 5.0)])
    assert (chosen.id, why.rule) == ("a", reasons.TIE_BREAK)


def test_last_agent_affinity_and_a_relaxed_stage_are_named():
    req = Requirements(("billing",), "tr", 3, team="billing", only_agent="mine", stage=2)
    chosen, why = explain(req, [(agent("mine", 4), 900.0)])
    assert (chosen.id, why.rule, why.stage, why.team, why.min_proficiency) == ("mine", reasons.LAST_AGENT, 2,
                                                                                 "billing", 3)


def test_a_free_agent_taking_a_waiting_call_came_free_first():
    why = matching.explain_call_choice(agent("a5", 5), REQ, available_since=995.0, now=1000.0)
    assert (why.rule, why.candidates, why.idle_seconds) == (reasons.FIRST_FREE_AGENT, 1, 5.0)


def test_the_reason_travels_with_the_queued_call_through_redis_and_events():
    _, why = explain(REQ, [(agent("a9", 9), 940.0), (agent("a8", 8), 0.0)])
    call = QueuedCall("c1", "PJSIP/in-1", "billing", ("billing",), "tr", 0.0, 1.0, 1.0, 1.0, CustomerFacts(),
                      agent_id="a9", match=why)
    assert QueuedCall.from_hash(call.to_hash()) == call
    assert QueuedCall.from_event(call.to_event()).match == why
    assert QueuedCall.from_event({**call.to_event(), "match": None}).match is None


@given(st.lists(st.tuples(st.integers(0, 10), st.integers(0, 1000)), min_size=1, max_size=12))
def test_the_reason_always_names_the_agent_best_agent_picks(levels):
    candidates = [(agent(f"a{i}", level), float(since)) for i, (level, since) in enumerate(levels)]
    choice = matching.choose_agent(REQ, candidates)
    assert (choice.agent if choice else None) is matching.best_agent(REQ, candidates)
    if choice is not None:
        why = matching.explain_agent_choice(REQ, choice, 2000.0)
        assert why.rule in reasons.RULES
        assert why.candidates == sum(1 for a, _ in candidates if a.skills["billing"] >= 5)
        assert MatchReason.from_dict(why.to_dict()) == why
