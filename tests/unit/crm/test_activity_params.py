"""Turning a CallActivity into the activity write: masking, normalising, refusing nonsense."""
import json
from datetime import datetime, timezone

import pytest

from gateway.crm.activities import (
    DEFAULT_SENSITIVE_KEYS,
    MASK,
    CallActivity,
    call_params,
    describe_call,
    mask_inputs,
    route_dict,
)
from gateway.routing import RouteRequest

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)


def params(**fields):
    fields.setdefault("linkedid", "1700000000.17")
    return call_params(CallActivity(**fields), DEFAULT_SENSITIVE_KEYS, "TR", NOW)


def test_sensitive_inputs_are_masked_again():
    p = params(ivr_inputs={"PIN": "1234", "menu": "2", "card_number": "4111111111111111", "account": "12345678"})
    inputs = json.loads(p["ivr_inputs"])
    assert inputs == {"PIN": MASK, "menu": "2", "card_number": MASK, "account": "12345678"}


def test_a_flow_can_name_its_own_secret_inputs():
    # ActivityLog.record_call masks the union of its own set and the activity's.
    activity = CallActivity(linkedid="L1", ivr_inputs={"birth_year": "1980"}, sensitive_keys=frozenset({"birth_year"}))
    p = call_params(activity, DEFAULT_SENSITIVE_KEYS | {"birth_year"}, "TR", NOW)
    assert json.loads(p["ivr_inputs"]) == {"birth_year": MASK}


def test_mask_inputs_caps_and_cleans_values():
    masked = mask_inputs({"note": "a\x00b" + "x" * 500, "pin": ""}, frozenset({"pin"}))
    assert masked["pin"] == ""  # nothing to hide
    assert "\x00" not in masked["note"] and len(masked["note"]) <= 200


def test_e164_comes_from_the_raw_ani_when_not_given():
    assert params(raw_ani="05321234567")["e164"] == "+905321234567"
    assert params(raw_ani="anonymous")["e164"] is None
    assert params(raw_ani="x", e164="'; DROP TABLE activities; --")["e164"] is None


def test_times_may_be_epoch_seconds_or_datetimes():
    p = params(started_at=1_700_000_000.5, answered_at=datetime(2023, 11, 14, 22, 13, 30))
    assert p["started_at"] == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=timezone.utc)
    assert p["occurred_at"] == p["started_at"]
    assert p["answered_at"].tzinfo is timezone.utc
    assert params()["occurred_at"] == NOW  # no start time: when it was written


def test_unknown_outcomes_and_directions_are_refused():
    with pytest.raises(ValueError, match="outcome"):
        params(outcome="exploded")
    with pytest.raises(ValueError, match="direction"):
        params(direction="sideways")
    for linkedid in ("", "  ", None, "x" * 65, "a\nb"):
        with pytest.raises(ValueError, match="linkedid"):
            params(linkedid=linkedid)


def test_every_documented_outcome_is_accepted():
    for outcome in ("answered", "abandoned_ivr", "abandoned_queue", "voicemail", "callback", "transferred",
                    "failed", "self_service"):
        assert params(outcome=outcome)["outcome"] == outcome


def test_empty_lists_mean_unknown_not_erase():
    p = params(ivr_path=[], ivr_inputs={})
    assert p["ivr_path"] is None and p["ivr_inputs"] is None and p["route"] is None


def test_seconds_are_finite_and_not_negative():
    p = params(wait_seconds=-3, talk_seconds=float("nan"), hold_seconds=12)
    assert (p["wait_seconds"], p["talk_seconds"], p["hold_seconds"]) == (0.0, None, 12.0)


def test_the_route_request_as_json_data():
    assert route_dict(RouteRequest("billing", ("billing", "tr_speaker"), "tr", 5)) == {
        "queue": "billing", "skills": ["billing", "tr_speaker"], "language": "tr", "priority": 5}
    assert json.loads(params(route=RouteRequest("general"))["route"]) == {
        "queue": "general", "skills": [], "language": None, "priority": 0}
    assert route_dict(None) is None


def test_summary_line():
    p = params(outcome="answered", agent_id="agent007", queue="billing", wait_seconds=12, talk_seconds=184)
    assert describe_call(p) == "Inbound call: answered, agent agent007, queue billing, waited 12 s, talked 184 s"
    assert params()["summary"] == "Inbound call: in progress"


def test_hostile_text_fields_are_capped_and_cleaned():
    p = params(dnis="1" * 500, queue="q\x00ueue", agent_id="a" * 100, raw_ani="\x1b" + "9" * 10_000)
    assert len(p["dnis"]) <= 64 and p["queue"] == "queue" and len(p["agent_id"]) <= 64
    assert len(p["raw_ani"]) <= 40 and "\x1b" not in p["raw_ani"]
