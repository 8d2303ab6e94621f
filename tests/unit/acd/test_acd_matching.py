"""The pure matching rules: hard constraints, proficiency, longest idle, last-agent affinity,
relax steps, priority aging."""
from hypothesis import given, settings, strategies as st

from gateway.acd import matching
from gateway.acd.matching import Requirements
from gateway.acd.model import CustomerFacts, QueuedCall
from gateway.acd.queue_config import QueuePolicy, RelaxStep
from gateway.acd.roster import Agent

AGING = 30.0
BILLING = QueuePolicy("billing", ("billing",), team="billing", min_proficiency=5, affinity_wait_seconds=20,
                      relax=(RelaxStep(30, min_proficiency=3), RelaxStep(90, any_team_agent=True),
                             RelaxStep(300, overflow="general")))


def agent(agent_id, skills, languages=("tr",), team="billing"):
    return Agent(agent_id, agent_id, agent_id, team, tuple(languages), dict(skills))


def call(call_id="c1", skills=("billing",), language="tr", priority=0.0, at=1000.0, customer=None, rona=()):
    return QueuedCall(call_id, f"PJSIP/in-{call_id}", "billing", tuple(skills), language, priority, at, at,
                      matching.rank_key(at, priority, AGING), customer or CustomerFacts(), rona_agents=tuple(rona))


def req_for(c, now, **kw):
    return matching.requirements_at(c, BILLING, now, **kw)


# -- hard constraints ------------------------------------------------------------------

def test_language_is_a_hard_constraint_even_for_the_best_skilled_agent():
    english_expert = agent("en9", {"billing": 10}, ["en"])
    turkish_ok = agent("tr5", {"billing": 5}, ["tr"])
    req = req_for(call(language="tr"), 1000.0)
    assert matching.best_agent(req, [(english_expert, 0.0), (turkish_ok, 500.0)]) is turkish_ok
    assert matching.best_agent(req, [(english_expert, 0.0)]) is None


def test_every_required_skill_is_needed_at_the_minimum_proficiency():
    both = agent("both", {"billing": 6, "sales": 5})
    one = agent("one", {"billing": 10})
    weak = agent("weak", {"billing": 4, "sales": 9})
    req = matching.Requirements(("billing", "sales"), "tr", 5)
    assert matching.is_eligible(both, req)
    assert not matching.is_eligible(one, req)
    assert not matching.is_eligible(weak, req)
    assert matching.best_agent(req, [(one, 0.0), (weak, 0.0), (both, 9.0)]) is both


def test_a_call_without_a_language_takes_any_language():
    req = Requirements(("billing",), None, 5)
    assert matching.is_eligible(agent("en", {"billing": 5}, ["en"]), req)


# -- preference --------------------------------------------------------------------------

def test_best_proficiency_wins_then_longest_idle():
    nine_recent = agent("nine_recent", {"billing": 9})
    nine_idle = agent("nine_idle", {"billing": 9})
    seven_idlest = agent("seven", {"billing": 7})
    req = req_for(call(), 1000.0)
    candidates = [(nine_recent, 990.0), (seven_idlest, 100.0), (nine_idle, 500.0)]
    assert matching.best_agent(req, candidates) is nine_idle


def test_multi_skill_calls_prefer_the_strongest_weakest_skill_then_the_sum():
    req = Requirements(("billing", "sales"), "tr", 1)
    lopsided = agent("lopsided", {"billing": 10, "sales": 3})
    even = agent("even", {"billing": 6, "sales": 6})
    even_plus = agent("even_plus", {"billing": 7, "sales": 6})
    assert matching.best_agent(req, [(lopsided, 0.0), (even, 0.0)]) is even
    assert matching.best_agent(req, [(even, 0.0), (even_plus, 50.0)]) is even_plus


def test_ties_are_broken_by_agent_id_so_every_instance_decides_alike():
    a, b = agent("a", {"billing": 5}), agent("b", {"billing": 5})
    req = req_for(call(), 1000.0)
    assert matching.best_agent(req, [(b, 10.0), (a, 10.0)]) is a


# -- relax steps -------------------------------------------------------------------------

def test_minimum_proficiency_relaxes_after_the_first_step():
    novice = agent("novice", {"billing": 3})
    c = call(at=1000.0)
    assert matching.best_agent(req_for(c, 1029.9), [(novice, 0.0)]) is None
    assert matching.best_agent(req_for(c, 1030.0), [(novice, 0.0)]) is novice


def test_any_team_agent_after_the_team_step_but_never_another_language():
    teammate = agent("teammate", {"general": 8})
    outsider = agent("outsider", {"general": 8}, team="sales")
    english_teammate = agent("en_mate", {"general": 8}, ["en"])
    c = call(at=1000.0)
    assert matching.best_agent(req_for(c, 1089.0), [(teammate, 0.0)]) is None
    req = req_for(c, 1090.0)
    assert (req.stage, req.team) == (2, "billing")
    assert matching.best_agent(req, [(outsider, 0.0), (english_teammate, 0.0)]) is None
    assert matching.best_agent(req, [(outsider, 0.0), (teammate, 0.0)]) is teammate


def test_skilled_agents_still_come_before_unskilled_teammates_once_relaxed():
    skilled = agent("skilled", {"billing": 3}, team="sales")
    teammate = agent("teammate", {"general": 9})
    req = req_for(call(at=1000.0), 1100.0)
    assert matching.best_agent(req, [(teammate, 0.0), (skilled, 999.0)]) is skilled


def test_terminal_step_is_due_only_after_its_time():
    c = call(at=1000.0)
    assert matching.due_terminal_step(c, BILLING, 1299.0) is None
    assert matching.due_terminal_step(c, BILLING, 1300.0).overflow == "general"
    assert matching.next_change_at(c, BILLING) == 1030.0


# -- last-agent affinity -----------------------------------------------------------------

REPEAT = CustomerFacts("cust1", "gold", last_agent_id="last", repeat_caller=True, has_open_case=True)


def test_repeat_caller_with_open_case_waits_for_the_last_agent_within_the_window():
    last = agent("last", {"billing": 6})
    better = agent("better", {"billing": 10})
    c = call(customer=REPEAT, at=1000.0)
    req = req_for(c, 1010.0, last_agent=last, last_agent_logged_in=True)
    assert req.only_agent == "last"
    assert matching.best_agent(req, [(better, 0.0)]) is None  # waits for the last agent
    assert matching.best_agent(req, [(better, 0.0), (last, 900.0)]) is last
    late = req_for(c, 1020.0, last_agent=last, last_agent_logged_in=True)
    assert late.only_agent is None
    assert matching.best_agent(late, [(better, 0.0), (last, 0.0)]) is better


def test_no_waiting_for_a_last_agent_who_is_away_unfit_or_let_it_ring_out():
    last = agent("last", {"billing": 6})
    c = call(customer=REPEAT, at=1000.0)
    assert req_for(c, 1001.0, last_agent=last, last_agent_logged_in=False).only_agent is None
    english_last = agent("last", {"billing": 9}, ["en"])
    assert req_for(c, 1001.0, last_agent=english_last, last_agent_logged_in=True).only_agent is None
    rona = call(customer=REPEAT, at=1000.0, rona=["last"])
    assert req_for(rona, 1001.0, last_agent=last, last_agent_logged_in=True).only_agent is None
    first_time = call(customer=CustomerFacts(last_agent_id="last", repeat_caller=True, has_open_case=False))
    assert req_for(first_time, 1001.0, last_agent=last, last_agent_logged_in=True).only_agent is None


def test_a_freed_agent_takes_the_call_waiting_for_them_first():
    last = agent("last", {"billing": 6})
    old = call("old", at=900.0, priority=5)
    mine = call("mine", customer=REPEAT, at=1000.0)
    now = 1005.0
    offers = [(old, req_for(old, now)), (mine, req_for(mine, now, last_agent=last, last_agent_logged_in=True))]
    assert matching.best_call(last, offers) is mine
    assert matching.best_call(agent("other", {"billing": 9}), offers) is old


# -- priority and aging ------------------------------------------------------------------

def test_priority_counts_tier_points_and_ages_with_waiting():
    assert matching.call_priority(2, "Gold", {"gold": 2}) == 4
    assert matching.call_priority(2, None, {"gold": 2}) == 2
    vip = call("vip", priority=4, at=1000.0)
    old = call("old", priority=0, at=870.0)
    now = 1000.0
    assert matching.effective_priority(vip, now, AGING) == 4
    assert matching.effective_priority(old, now, AGING) == 130 / 30
    free = agent("free", {"billing": 9})
    offers = [(vip, req_for(vip, now)), (old, req_for(old, now))]
    assert matching.best_call(free, offers) is old  # 130 s of waiting beats 4 points (120 s)
    younger = call("old", priority=0, at=890.0)
    assert matching.best_call(free, [(vip, req_for(vip, now)), (younger, req_for(younger, now))]) is vip


def test_equal_priority_is_first_come_first_served():
    free = agent("free", {"billing": 9})
    first, second = call("first", at=1000.0), call("second", at=1001.0)
    now = 1002.0
    assert matching.best_call(free, [(second, req_for(second, now)), (first, req_for(first, now))]) is first


def test_a_freed_agent_prefers_calls_they_fit_unless_another_waited_much_longer():
    both = agent("both", {"billing": 9, "sales": 4})
    sales = QueuedCall("s", "chan", "sales", ("sales",), "tr", 0, 1000.0, 1000.0, 1000.0)
    billing = call("b", at=1010.0)
    now = 1020.0
    anyone = Requirements(("sales",), "tr", 1)
    offers = [(sales, anyone), (billing, req_for(billing, now))]
    assert matching.best_call(both, offers) is sales  # pure priority: the older call
    assert matching.best_call(both, offers, fit_seconds_per_level=6) is billing  # 5 levels = 30 s > 10 s
    much_older = QueuedCall("s", "chan", "sales", ("sales",), "tr", 0, 960.0, 960.0, 960.0)
    assert matching.best_call(both, [(much_older, anyone), (billing, req_for(billing, now))],
                              fit_seconds_per_level=6) is much_older


def test_estimated_wait():
    assert matching.estimated_wait(0, 5, 240) == 0
    assert matching.estimated_wait(3, 2, 240) == 360
    assert matching.estimated_wait(3, 0, 240) == 720


# -- properties --------------------------------------------------------------------------

SKILLS = ["billing", "sales", "tech"]
agents_strategy = st.lists(
    st.builds(lambda i, skills, langs, team, idle: (agent(f"a{i}", skills, langs, team), idle),
              st.integers(0, 10_000),
              st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 10), min_size=1),
              st.lists(st.sampled_from(["tr", "en"]), min_size=1, max_size=2, unique=True),
              st.sampled_from(["billing", "sales"]),
              st.floats(0, 1000)),
    max_size=30, unique_by=lambda pair: pair[0].id)
req_strategy = st.builds(Requirements, st.lists(st.sampled_from(SKILLS), max_size=2, unique=True).map(tuple),
                         st.sampled_from(["tr", "en", None]), st.integers(1, 10),
                         st.sampled_from([None, "billing"]))


@settings(max_examples=300, deadline=None)
@given(agents_strategy, req_strategy)
def test_the_chosen_agent_is_eligible_and_nobody_eligible_serves_better(candidates, req):
    chosen = matching.best_agent(req, candidates)
    eligible = [(a, idle) for a, idle in candidates if matching.is_eligible(a, req)]
    if not eligible:
        assert chosen is None
        return
    assert chosen is not None and matching.is_eligible(chosen, req)
    chosen_score = matching.skill_score(chosen, req.skills)
    chosen_idle = dict((a.id, idle) for a, idle in candidates)[chosen.id]
    for other, idle in eligible:
        score = matching.skill_score(other, req.skills)
        assert score <= chosen_score
        if score == chosen_score:
            assert idle >= chosen_idle


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 3000), st.integers(0, 5)), min_size=2, max_size=20))
def test_aging_never_reorders_waiting_calls(arrivals):
    # The static rank key and the effective priority agree at every moment.
    calls = [call(f"c{i}", at=at, priority=p) for i, (at, p) in enumerate(arrivals)]
    by_rank = sorted(calls, key=lambda c: c.rank_key)
    for now in (3000.0, 5000.0, 100000.0):
        priorities = [matching.effective_priority(c, now, AGING) for c in by_rank]
        assert all(a >= b - 1e-9 for a, b in zip(priorities, priorities[1:]))
