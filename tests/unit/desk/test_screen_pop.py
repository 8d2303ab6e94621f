"""The screen pop's content: what the agent sees of a caller, bounded and kept as data."""
import json
from datetime import datetime, timezone
from decimal import Decimal

from gateway.crm.numbers import classify_ani
from gateway.crm.views import ActivitySummary, CallerView, CaseSummary
from gateway.desk.pop import DeskKind, DeskMessage, WithdrawReason, build_pop

WHEN = datetime(2026, 11, 25, 8, 30, tzinfo=timezone.utc)
HOSTILE = "<img src=x onerror=alert(1)>'; DROP TABLE customers;--"


def activity(i, **kw):
    return ActivitySummary(id=i, kind="call", occurred_at=WHEN, direction="inbound", channel="phone",
                           summary=f"Inbound call {i}", agent_id="1001", outcome="answered", **kw)


def known(**kw):
    fields = dict(ani=classify_ani("05321234567"), known=True, customer_id=7, name="Çağrı Öztürk", language="tr",
                  tier="gold", lifetime_value=Decimal("125000.50"), account_number="TR000123",
                  recent_activities=[activity(i) for i in range(20)],
                  open_cases=[CaseSummary(3, "Fatura itirazı", "open", "high", WHEN, "1002")],
                  last_agent_id="1002", calls_last_7_days=3, repeat_caller=True)
    fields.update(kw)
    return CallerView(**fields)


def pop_for(caller, **kw):
    args = dict(call_id="1700.42", caller=caller, raw_ani="05321234567", dnis="100", language="tr",
                ivr_path=["language", "main_menu", "billing_wait"], ivr_inputs={"language": "1", "main_menu": "1"},
                queue="billing", waited_seconds=12.345, ringing_at=1700000012.0)
    args.update(kw)
    return build_pop(**args)


def test_a_known_caller_pops_with_everything_the_agent_needs_before_hello():
    pop = pop_for(known(), routing={"rule": "last_agent", "candidates": 1, "proficiency": {"billing": 7},
                                    "language": "tr", "idle_seconds": 31.0, "skills": ["billing"]})
    c = pop.caller
    assert (c.known, c.name, c.number, c.number_e164) == (True, "Çağrı Öztürk", "+90 532 123 45 67", "+905321234567")
    assert (c.tier, c.lifetime_value, c.language) == ("gold", "125000.50", "tr")
    assert [case.subject for case in c.open_cases] == ["Fatura itirazı"]
    assert len(c.recent_activities) == 10 and c.recent_activities[0].summary == "Inbound call 0"  # newest first
    assert (c.last_agent_id, c.repeat_caller, c.calls_last_7_days) == ("1002", True, 3)
    assert pop.ivr_path == ["language", "main_menu", "billing_wait"] and pop.ivr_inputs["main_menu"] == "1"
    assert (pop.queue, pop.waited_seconds, pop.language) == ("billing", 12.3, "tr")
    assert (pop.routing.rule, pop.routing.proficiency, pop.routing.idle_seconds) == ("last_agent", {"billing": 7}, 31.0)


def test_an_unknown_caller_shows_the_number_in_international_form_and_no_name():
    caller = CallerView(ani=classify_ani("+442071234567"), language="en")
    c = pop_for(caller).caller
    assert (c.known, c.name, c.number, c.number_kind) == (False, None, "+44 20 7123 4567", "number")
    withheld = pop_for(CallerView(ani=classify_ani("Restricted"))).caller
    assert (withheld.number, withheld.number_kind) == (None, "withheld")


def test_without_a_crm_lookup_the_pop_still_shows_the_raw_number_safely():
    c = pop_for(None, raw_ani="05321234567\x00\x1b[31m").caller
    assert (c.known, c.crm_available, c.number) == (False, False, None)
    assert "\x00" not in c.number_display and "\x1b" not in c.number_display


def test_hostile_names_and_notes_are_kept_as_data_not_cleaned_into_something_else():
    pop = pop_for(known(name=HOSTILE, recent_activities=[activity(1)],
                        open_cases=[CaseSummary(1, "<script>alert('x')</script>", "open", "normal", WHEN, None)]))
    assert pop.caller.name == HOSTILE
    assert pop.caller.open_cases[0].subject == "<script>alert('x')</script>"
    wire = json.loads(pop.model_dump_json())
    assert wire["caller"]["name"] == HOSTILE  # JSON carries it as a string, for the page to render as text


def test_10_kb_strings_and_long_lists_are_bounded():
    huge = "Ğ" * 10_000
    pop = pop_for(known(name=huge, recent_activities=[activity(1)]), ivr_path=[huge] * 500,
                  ivr_inputs={f"k{i}": huge for i in range(100)}, dnis=huge,
                  routing={"rule": huge, "skills": [huge] * 100, "proficiency": {f"s{i}": 1 for i in range(100)}})
    assert len(pop.caller.name) == 200 and pop.caller.name.endswith("…")
    assert len(pop.ivr_path) == 50 and all(len(step) == 64 for step in pop.ivr_path)
    assert len(pop.ivr_inputs) == 20 and len(pop.dnis) == 64
    assert len(pop.routing.skills) == 16 and len(pop.routing.proficiency) == 16
    assert len(pop.model_dump_json()) < 12_000


def test_control_characters_leave_names_but_newlines_stay_in_activity_summaries():
    pop = pop_for(known(name="Emily\x00\u202e Clarke\r\n", recent_activities=[
        ActivitySummary(1, "note", WHEN, None, None, "line one\nline two\x07", None, None)]))
    assert pop.caller.name == "Emily Clarke"
    assert pop.caller.recent_activities[0].summary == "line one\nline two"


def test_sensitive_digits_arrive_masked_by_the_ivr_and_stay_masked():
    pop = pop_for(known(), ivr_inputs={"language": "1", "main_menu": "4", "account_number": "******78"})
    assert pop.ivr_inputs["account_number"] == "******78"


def test_a_desk_message_round_trips_through_json_with_its_kind_and_reason():
    message = DeskMessage(version=3, kind=DeskKind.WITHDRAWN, agent_id="1001", call_id="1700.42", at=5.0,
                          reason=WithdrawReason.NO_ANSWER, pop=pop_for(known()))
    back = DeskMessage.model_validate_json(message.model_dump_json())
    assert back == message and not back.live
    assert json.loads(message.model_dump_json())["reason"] == "no_answer"


def test_a_transferred_calls_pop_carries_the_first_agents_note_as_bounded_text():
    note = "Müşteri <b>iade</b> istiyor\nfatura no: 42" + "x" * 5000
    pop = pop_for(known(), transfer={"from_agent": "1001", "note": note})
    assert pop.transfer.from_agent == "1001"
    assert pop.transfer.note.startswith("Müşteri <b>iade</b> istiyor\nfatura no: 42")
    assert len(pop.transfer.note) == 1000
    assert pop_for(known()).transfer is None and pop_for(known()).direction == "inbound"
