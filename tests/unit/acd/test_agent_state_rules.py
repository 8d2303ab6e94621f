"""Agent state rules: every transition bumps the version; misfits change nothing or refuse."""
import pytest

from gateway.acd import states
from gateway.acd.errors import AgentStateError
from gateway.acd.states import AgentState, AgentStatus

S = AgentState


def walk_to_call(now=100.0) -> AgentStatus:
    s = states.login(AgentStatus("a1"), now)
    s = states.reserve(s, now + 1, "c1", "billing")
    s = states.ringing(s, now + 2, "c1")
    return states.answered(s, now + 3, "c1")


def test_a_full_call_cycle_records_times_versions_and_calls_handled():
    s = states.login(AgentStatus("a1"), 100.0)
    assert (s.state, s.since, s.version) == (S.AVAILABLE, 100.0, 1)
    s = states.reserve(s, 101.0, "c1", "billing")
    assert (s.state, s.call_id, s.queue, s.version) == (S.RESERVED, "c1", "billing", 2)
    s = states.ringing(s, 102.0, "c1")
    s = states.answered(s, 103.0, "c1")
    assert (s.state, s.since, s.call_id) == (S.ON_CALL, 103.0, "c1")
    s = states.call_ended(s, 160.0, "c1", wrapup_seconds=15)
    assert (s.state, s.wrapup_until, s.calls_handled, s.call_id) == (S.WRAP_UP, 175.0, 1, "c1")
    assert states.expire_wrapup(s, 174.9) is s
    s = states.expire_wrapup(s, 175.0)
    assert (s.state, s.since, s.call_id, s.calls_handled, s.version) == (S.AVAILABLE, 175.0, "", 1, 6)


def test_zero_wrapup_goes_straight_back_to_available():
    s = states.call_ended(walk_to_call(), 200.0, "c1", wrapup_seconds=0)
    assert (s.state, s.calls_handled) == (S.AVAILABLE, 1)


def test_ring_no_answer_makes_the_agent_not_ready_with_reason_rona():
    s = states.reserve(states.login(AgentStatus("a1"), 1.0), 2.0, "c1", "q")
    s = states.ring_no_answer(states.ringing(s, 3.0, "c1"), 18.0, "c1")
    assert (s.state, s.reason, s.call_id) == (S.NOT_READY, "RONA", "")


def test_events_for_another_call_or_replays_change_nothing():
    s = walk_to_call()
    assert states.ringing(s, 1.0, "c1") is s  # already answered
    assert states.answered(s, 1.0, "c1") is s
    assert states.ring_no_answer(s, 1.0, "c1") is s
    assert states.release(s, 1.0, "c1") is s
    assert states.call_ended(s, 1.0, "other", 10) is s
    assert states.end_wrapup(s, 1.0) is s


def test_controls_during_a_call_wait_until_the_call_and_wrapup_are_done():
    s = states.not_ready(walk_to_call(), 150.0, "lunch")
    assert (s.state, s.pending) == (S.ON_CALL, "not_ready:lunch")
    s = states.call_ended(s, 160.0, "c1", wrapup_seconds=10)
    assert s.state is S.WRAP_UP
    s = states.end_wrapup(s, 165.0)
    assert (s.state, s.reason, s.pending) == (S.NOT_READY, "lunch", "")

    s = states.logout(walk_to_call(), 150.0)
    assert (s.state, s.pending) == (S.ON_CALL, "logout")
    assert states.ready(s, 151.0).pending == ""  # changed their mind
    assert states.call_ended(s, 160.0, "c1", 0).state is S.LOGGED_OUT


def test_a_pending_logout_survives_ring_no_answer():
    s = states.reserve(states.login(AgentStatus("a1"), 1.0), 2.0, "c1", "q")
    s = states.logout(s, 3.0)
    assert states.ring_no_answer(s, 4.0, "c1").state is S.LOGGED_OUT


def test_release_after_abandon_frees_the_agent():
    s = states.reserve(states.login(AgentStatus("a1"), 1.0), 2.0, "c1", "q")
    s = states.release(states.ringing(s, 3.0, "c1"), 4.0, "c1")
    assert (s.state, s.since, s.call_id) == (S.AVAILABLE, 4.0, "")


def test_controls_that_make_no_sense_are_refused_or_ignored():
    out = AgentStatus("a1")
    with pytest.raises(AgentStateError):
        states.ready(out, 1.0)
    with pytest.raises(AgentStateError):
        states.not_ready(out, 1.0, "break")
    with pytest.raises(AgentStateError):
        states.reserve(states.not_ready(states.login(out, 1.0), 2.0, "break"), 3.0, "c", "q")
    s = states.login(out, 1.0)
    assert states.login(s, 2.0) is s
    assert states.ready(s, 2.0) is s
    assert states.logout(states.logout(s, 3.0), 4.0).state is S.LOGGED_OUT


def test_not_ready_reason_codes_and_login_not_ready():
    s = states.login(AgentStatus("a1"), 1.0, ready=False)
    assert (s.state, s.reason) == (S.NOT_READY, "login")
    s = states.not_ready(s, 2.0, "training")
    assert (s.reason, s.since) == ("training", 2.0)
    assert states.not_ready(s, 3.0, "training") is s
    assert states.ready(s, 4.0).state is S.AVAILABLE
    wrap = states.call_ended(walk_to_call(), 10.0, "c1", 30)
    assert states.not_ready(wrap, 12.0, "").reason == "break"  # cuts wrap-up short


def test_status_round_trips_through_redis_hash_and_event():
    s = states.not_ready(walk_to_call(), 150.5, "lunch")
    assert AgentStatus.from_hash("a1", s.to_hash()) == s
    assert AgentStatus.from_hash("a1", {k.encode(): v.encode() for k, v in s.to_hash().items()}) == s
    assert AgentStatus.from_event(s.to_event()) == s
    assert AgentStatus.from_hash("zz", {}) == AgentStatus("zz")
