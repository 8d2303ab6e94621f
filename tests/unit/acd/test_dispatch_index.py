"""The in-memory dispatch index decides exactly as the pure functions would over everything,
and ignores stale news."""
from hypothesis import given, settings, strategies as st

from gateway.acd import matching
from gateway.acd.index import DispatchIndex
from gateway.acd.model import CallState, CustomerFacts, QueuedCall
from gateway.acd.queue_config import QueueConfig, QueuePolicy, RelaxStep
from gateway.acd.roster import Agent, Roster, Team
from gateway.acd.states import AgentState, AgentStatus

SKILLS = ["billing", "sales", "tech", "general"]
TEAMS = ["billing", "sales"]
QUEUES = QueueConfig({
    "billing": QueuePolicy("billing", ("billing",), team="billing", min_proficiency=6,
                           relax=(RelaxStep(30, min_proficiency=2), RelaxStep(90, any_team_agent=True))),
    "sales": QueuePolicy("sales", ("sales",), team="sales", min_proficiency=4, affinity_wait_seconds=40),
    "general": QueuePolicy("general", ("general",), min_proficiency=1),
}, aging_seconds_per_point=30.0, fit_seconds_per_level=6.0)


def make_roster(agent_specs) -> Roster:
    agents = [Agent(f"a{i}", f"a{i}", f"{1000 + i}", team, tuple(langs), dict(skills))
              for i, (skills, langs, team, _, _) in enumerate(agent_specs)]
    return Roster(tuple(Team(t, t) for t in TEAMS), tuple(agents))


agent_specs = st.lists(st.tuples(
    st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), min_size=1),
    st.lists(st.sampled_from(["tr", "en"]), min_size=1, max_size=2, unique=True),
    st.sampled_from(TEAMS),
    st.sampled_from(list(AgentState)),
    st.floats(0, 1000)), min_size=1, max_size=25)

call_specs = st.lists(st.tuples(
    st.sampled_from(list(QUEUES.queues)),
    st.lists(st.sampled_from(SKILLS), max_size=2, unique=True),
    st.sampled_from(["tr", "en", None]),
    st.integers(0, 4),
    st.floats(0, 1000),
    st.one_of(st.none(), st.integers(0, 24))), max_size=25)


def build(agents, calls):
    roster = make_roster(agents)
    index = DispatchIndex(roster, QUEUES)
    for i, (_, _, _, state, since) in enumerate(agents):
        index.apply_agent(AgentStatus(f"a{i}", state, since, version=1))
    queued = []
    for j, (queue, skills, lang, prio, at, last) in enumerate(calls):
        facts = CustomerFacts(last_agent_id=f"a{last}" if last is not None else None, repeat_caller=True,
                              has_open_case=last is not None)
        c = QueuedCall(f"c{j}", "chan", queue, tuple(skills) or QUEUES.queues[queue].skills, lang, prio, at, at,
                       matching.rank_key(at, prio, 30.0), facts)
        index.apply_call(c)
        queued.append(c)
    return roster, index, queued


@settings(max_examples=300, deadline=None)
@given(agent_specs, call_specs, st.floats(1000, 1200))
def test_index_picks_the_same_agent_and_call_as_a_full_scan(agents, calls, now):
    roster, index, queued = build(agents, calls)
    available = [(roster.agent(s.agent_id), s.since) for s in index.statuses.values()
                 if s.state is AgentState.AVAILABLE]
    for c in queued:
        req = index.requirements(c, now)
        assert index.best_agent_for(c, now) == matching.best_agent(req, available)
    for agent_id in index.available:
        agent = roster.agent(agent_id)
        expected = matching.best_call(agent, [(c, index.requirements(c, now)) for c in queued],
                                      QUEUES.fit_seconds_per_level)
        assert index.best_call_for(agent_id, now) == expected


def test_stale_versions_are_ignored_and_held_entries_are_not_offered():
    roster = make_roster([({"billing": 9}, ["tr"], "billing", None, 0)])
    index = DispatchIndex(roster, QUEUES)
    assert index.apply_agent(AgentStatus("a0", AgentState.AVAILABLE, 10.0, version=3))
    assert not index.apply_agent(AgentStatus("a0", AgentState.ON_CALL, 5.0, version=2))
    assert index.is_offerable("a0")
    call = QueuedCall("c", "chan", "billing", ("billing",), "tr", 0, 20.0, 20.0, 20.0, version=1)
    index.apply_call(call)
    assert index.best_agent_for(call, 21.0).id == "a0"
    index.hold_agent("a0")
    assert index.best_agent_for(call, 21.0) is None
    index.unhold_agent("a0")
    index.hold_call("c")
    assert index.best_call_for("a0", 21.0) is None
    index.unhold_call("c")
    assert index.best_call_for("a0", 21.0) == call
    # The call is booked (version 2); a late echo of version 1 must not bring it back.
    index.apply_call(QueuedCall(**{**call.__dict__, "state": CallState.RESERVED, "version": 2}))
    assert not index.apply_call(call)
    assert index.calls == {}
    assert index.remove_call("gone", 4) and not index.apply_call(QueuedCall(**{**call.__dict__, "call_id": "gone",
                                                                               "version": 3}))


def test_reloaded_roster_rebuckets_available_agents_by_their_new_skills():
    roster = make_roster([({"billing": 9}, ["tr"], "billing", None, 0)])
    index = DispatchIndex(roster, QUEUES)
    index.apply_agent(AgentStatus("a0", AgentState.AVAILABLE, 10.0, version=1))
    sales_call = QueuedCall("c", "chan", "sales", ("sales",), "tr", 0, 20.0, 20.0, 20.0)
    index.apply_call(sales_call)
    assert index.best_agent_for(sales_call, 21.0) is None
    index.set_roster(make_roster([({"sales": 7}, ["tr"], "sales", None, 0)]))
    assert index.best_agent_for(sales_call, 21.0).id == "a0"
    assert index.status("a0").state is AgentState.AVAILABLE


def test_positions_within_a_queue():
    roster = make_roster([({"billing": 9}, ["tr"], "billing", None, 0)])
    index = DispatchIndex(roster, QUEUES)
    calls = [QueuedCall(f"c{i}", "chan", "billing", ("billing",), lang, 0, 10.0 + i, 10.0 + i, 10.0 + i)
             for i, lang in enumerate(["tr", "en", "tr"])]
    for c in calls:
        index.apply_call(c)
    assert [index.position(c) for c in calls] == [1, 2, 3]
    assert [c.call_id for c in index.waiting_in("billing")] == ["c0", "c1", "c2"]
    assert index.waiting_count("billing") == 3 and index.waiting_count("sales") == 0
