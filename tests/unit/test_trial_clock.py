"""`ctigw try`'s IVR clock: a newcomer trying the gateway at night or on a Sunday still reaches
an agent, because the trial's business hours are always open (unless --real-hours)."""
import datetime as dt
from zoneinfo import ZoneInfo

from gateway.cli.run import always_open_clock
from gateway.config import Settings
from gateway.ivr.hours import is_open, next_open
from gateway.ivr.loader import flow_file, load_flow

ISTANBUL = ZoneInfo("Europe/Istanbul")


def main_flow_schedules(settings):
    flow = load_flow(flow_file(settings.ivr.flows_dir, settings.ivr.main_flow))
    return [s for f in flow.all_flows() for s in f.schedules.values()]


def test_next_open_is_the_first_open_moment_after_a_closed_one():
    [office] = main_flow_schedules(Settings())
    sunday_evening = dt.datetime(2026, 11, 29, 21, 7, tzinfo=ISTANBUL)
    assert next_open([office], sunday_evening) == dt.datetime(2026, 11, 30, 9, 7, tzinfo=ISTANBUL)
    wednesday = dt.datetime(2026, 11, 25, 11, 0, tzinfo=ISTANBUL)
    assert next_open([office], wednesday) == wednesday
    new_year = dt.datetime(2026, 12, 31, 18, 0, tzinfo=ISTANBUL)  # Friday 1 January 2027 is a holiday,
    assert next_open([office], new_year).date() == dt.date(2027, 1, 4)  # then the weekend


def test_the_trial_clock_is_real_while_the_office_is_open_and_open_when_it_is_not():
    settings = Settings()
    [office] = main_flow_schedules(settings)
    now = [dt.datetime(2026, 11, 29, 21, 7, tzinfo=ISTANBUL)]  # a Sunday night
    clock = always_open_clock(settings, now=lambda: now[0])
    assert is_open(office, clock())
    now[0] = dt.datetime(2026, 11, 30, 3, 0, tzinfo=ISTANBUL)  # still closed later on: still open here
    assert is_open(office, clock())
    now[0] = dt.datetime(2026, 12, 2, 10, 30, tzinfo=ISTANBUL)  # open for real: the real time
    assert clock() == now[0]
