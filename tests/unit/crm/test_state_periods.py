"""Agent state periods clipped to a window: what any report or board window counts."""
from datetime import datetime, timedelta, timezone

import pytest

from gateway.crm.state_periods import StatePeriod, Window, clip, clip_all, not_ready_by_reason, seconds_by_state

UTC = timezone.utc
ISTANBUL = timezone(timedelta(hours=3))


def at(hour, minute=0, day=1):
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


def period(start, end, state="available", reason=None, agent="1001"):
    return StatePeriod(agent, state, start, end, reason=reason)


def test_a_period_inside_the_window_is_kept_whole():
    p = period(at(10), at(11))
    assert clip(p, Window(at(9), at(12)), now=at(13)) == p


def test_a_period_across_the_window_is_cut_at_both_ends():
    clipped = clip(period(at(8), at(14)), Window(at(9), at(12)), now=at(15))
    assert (clipped.started_at, clipped.ended_at, clipped.seconds) == (at(9), at(12), 3 * 3600)


def test_a_period_outside_the_window_or_touching_it_counts_nothing():
    window = Window(at(9), at(12))
    assert clip(period(at(7), at(9)), window, now=at(13)) is None  # ends as the window starts
    assert clip(period(at(12), at(13)), window, now=at(13)) is None  # starts as it ends: [start, end)
    assert clip(period(at(5), at(6)), window, now=at(13)) is None


def test_an_open_period_counts_until_now_and_no_further():
    window = Window(at(9), at(12))
    assert clip(period(at(10), None), window, now=at(11)).ended_at == at(11)
    assert clip(period(at(10), None), window, now=at(20)).ended_at == at(12)
    assert clip(period(at(10), None), window, now=at(10)) is None  # nothing has passed yet


def test_a_night_shift_across_midnight_splits_between_the_two_days():
    shift = [period(at(22, day=1), at(23, 30, day=1)),
             period(at(23, 30, day=1), at(1, 15, day=2), "not_ready", "lunch"),
             period(at(1, 15, day=2), None, "on_call")]
    now = at(6, day=2)
    day1 = clip_all(shift, Window(at(0, day=1), at(0, day=2)), now)
    day2 = clip_all(shift, Window(at(0, day=2), at(0, day=3)), now)
    assert seconds_by_state(day1) == {"1001": {"available": 5400, "not_ready": 1800}}
    assert seconds_by_state(day2) == {"1001": {"not_ready": 4500, "on_call": 4 * 3600 + 45 * 60}}
    assert not_ready_by_reason(day1)["1001"]["lunch"] + not_ready_by_reason(day2)["1001"]["lunch"] == 6300


def test_not_ready_time_is_summed_by_agent_and_reason():
    periods = [period(at(9), at(9, 15), "not_ready", "break"), period(at(9, 15), at(10), "available"),
               period(at(10), at(10, 5), "not_ready", "break"), period(at(12), at(13), "not_ready", "lunch"),
               period(at(9), at(9, 30), "not_ready", "RONA", agent="1002")]
    assert not_ready_by_reason(periods) == {"1001": {"break": 1200, "lunch": 3600}, "1002": {"RONA": 1800}}


def test_a_window_in_another_time_zone_is_the_same_instants():
    p = period(at(8), at(10))
    local = Window(datetime(2026, 12, 1, 12, tzinfo=ISTANBUL), datetime(2026, 12, 1, 14, tzinfo=ISTANBUL))
    assert clip(p, local, now=at(12)).seconds == 3600  # 09:00-10:00 UTC


@pytest.mark.parametrize("start, end, message", [
    (datetime(2026, 12, 1, 9), at(10), "has no time zone"),
    (at(10), at(9), "is not before its end"),
    (at(10), at(10), "is not before its end"),
    ("2026-12-01", at(10), "must be a datetime"),
])
def test_a_bad_window_is_refused_plainly(start, end, message):
    with pytest.raises(ValueError, match=message):
        Window(start, end)


def test_an_open_period_has_no_length_until_clipped():
    with pytest.raises(ValueError, match="still open"):
        period(at(9), None).seconds
