"""Whatever a caller presses, whenever they call: the main flow ends cleanly, within its step
limit, with a consistent result, and sensitive digits stay masked."""
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ivr_fakes import FLOWS_DIR, ISTANBUL, Case, Caller, Services

from gateway.ivr.engine import run_flow
from gateway.ivr.loader import load_flow
from gateway.ivr.model import OUTCOMES
from gateway.ivr.scripted_channel import ScriptedChannel

FLOW = load_flow(FLOWS_DIR / "main.yaml")
KEYS = list("0123456789*#")
token = st.one_of(st.sampled_from(KEYS), st.sampled_from(KEYS).map(lambda k: "^" + k), st.just(""), st.just("!"),
                  st.just("12345678"))
callers = st.builds(
    Caller, known=st.booleans(), customer_id=st.sampled_from([None, 42]),
    language=st.sampled_from([None, "tr", "en", "de"]),
    tier=st.sampled_from([None, "platinum", "gold", "silver", "bronze"]),
    open_cases=st.sampled_from([[], [Case(7, "x", "open")]]), repeat_caller=st.booleans(),
)
moments = st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2027, 1, 1),
                       timezones=st.just(ISTANBUL))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(token, max_size=25), caller=callers, now=moments,
       waits=st.dictionaries(st.sampled_from(["billing", "support", "sales", "complaints", "general"]),
                             st.floats(0, 600)))
async def test_any_caller_any_keys_any_time(script, caller, now, waits):
    channel = ScriptedChannel(script)
    services = Services(case=Case(7, "x", "open"), waits=waits)
    result = await run_flow(FLOW, channel, caller, services, now=now)
    assert result.outcome in OUTCOMES
    assert (result.route is not None) == (result.outcome == "route")
    assert (result.callback_number is not None) == (result.outcome == "callback")
    assert result.path[0] == "language" and len(result.path) <= FLOW.max_steps + 1
    assert all(step.split(":")[-1] in FLOW.nodes or step.startswith("callback_offer:") for step in result.path)
    assert result.error is None or not result.error.startswith("internal error"), result.error
    if "account_number" in result.inputs:
        assert result.inputs["account_number"] == "******78"
    if result.route:
        assert result.route.language in ("tr", "en") and result.route.skills
