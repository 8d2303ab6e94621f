"""The example flow (ivr_flows/main.yaml), branch by branch, with a scripted caller.

Script tokens (see gateway/ivr/scripted_channel.py): "5" a key after the prompt, "^5" a key
during the prompt, "12345678" digits for GET DATA, "" silence, "!" hang-up.
"""
import datetime as dt
import logging

from ivr_fakes import EVENING, ISTANBUL, Case, Caller, Services, known_caller

from gateway.ivr.engine import run_flow
from gateway.ivr.scripted_channel import ScriptedChannel
from gateway.routing import RouteRequest

MENU = ["language", "welcome", "office_hours", "open_case_check", "main_menu"]


# --- main menu branches ------------------------------------------------------------------------

async def test_unknown_caller_chooses_turkish_then_billing(call):
    result, channel = await call(["1", "1"])
    assert result.outcome == "route"
    assert result.path == [*MENU, "billing_wait", "agent_billing"]
    assert result.route == RouteRequest(queue="billing", skills=["billing"], language="tr", priority=2)
    assert result.inputs == {"language": "1", "main_menu": "1"}
    assert ("exec_app", "Set(CHANNEL(language)=tr)") in channel.log
    assert channel.played[:2] == ["ctigw/language_tr", "ctigw/language_en"]
    assert channel.played[-1] == "ctigw/connecting"


async def test_english_and_technical_support(call):
    result, channel = await call(["2", "2"])
    assert result.route == RouteRequest(queue="support", skills=["tech_support"], language="en", priority=2)
    assert result.language == "en"
    assert channel.ops("exec_app")[0] == "Set(CHANNEL(language)=en)"


async def test_known_caller_gets_their_language_without_being_asked(call):
    result, channel = await call(["3"], caller=known_caller(language="en", tier="gold"))
    assert "ctigw/language_tr" not in channel.played
    assert channel.ops("exec_app")[0] == "Set(CHANNEL(language)=en)"
    assert result.path == [*MENU, "sales_wait", "agent_sales"]
    assert result.route == RouteRequest(queue="sales", skills=["sales"], language="en", priority=1)


async def test_known_caller_with_another_language_is_asked(call):
    result, channel = await call(["1", "9"], caller=known_caller(language="de"))
    assert channel.played[0] == "ctigw/language_tr"
    assert result.route.queue == "complaints" and result.route.language == "tr"


async def test_route_priority_is_the_menu_choice_whatever_the_tier(call):
    # Tier points are the ACD's to add (agents/queues.yaml), never the flow's.
    platinum, _ = await call(["1", "9"], caller=known_caller(tier="platinum", language=None))
    assert platinum.route == RouteRequest("complaints", ["complaints"], "tr", 3)
    bronze, _ = await call(["1", "0"], caller=known_caller(tier="bronze", language=None))
    assert bronze.route == RouteRequest("general", ["general"], "tr", 1)
    nobody, _ = await call(["1", "0"])
    assert nobody.route.priority == 1 and nobody.path[-2:] == ["general_wait", "agent_general"]


async def test_repeat_caller_with_open_case_is_offered_that_case_first(call):
    caller = known_caller(open_cases=[Case(7001, "Fatura itirazı", "open")], repeat_caller=True, tier="gold")
    result, channel = await call(["1"], caller=caller)
    assert result.path == ["language", "welcome", "office_hours", "open_case_check", "open_case_menu",
                           "agent_open_case"]
    assert result.route == RouteRequest("complaints", ["complaints"], "tr", 3)
    back, _ = await call(["2", "3"], caller=caller)
    assert back.path[-4:] == ["open_case_menu", "main_menu", "sales_wait", "agent_sales"]


# --- wrong keys, silence, hang-ups, barge-in -----------------------------------------------------

async def test_wrong_digits_then_right(call):
    result, channel = await call(["1", "7", "*", "2"])
    assert result.route.queue == "support"
    assert channel.played.count("ctigw/invalid_option") == 2
    assert channel.played.count("ctigw/main_menu") == 3
    assert result.path.count("main_menu") == 1  # retries happen inside the node


async def test_silence_until_retries_run_out_goes_to_an_agent(call):
    result, channel = await call(["1", "", "", ""])
    assert result.outcome == "route"
    assert result.path == [*MENU, "agent_general"]
    assert channel.played.count("ctigw/no_input") == 2  # not after the last try
    assert len(channel.ops("wait_for_digit")) == 1 + 3


async def test_language_menu_silence_falls_back_to_turkish(call):
    result, channel = await call(["", "", "", "1"])
    assert result.language == "tr"
    assert channel.ops("exec_app")[0] == "Set(CHANNEL(language)=tr)"
    assert result.route.queue == "billing"


async def test_hang_up_mid_menu_is_abandoned_with_the_path_so_far(call):
    result, _ = await call(["1", "!"])
    assert result.outcome == "abandoned"
    assert result.route is None
    assert result.path == MENU
    assert result.error is None


async def test_hang_up_during_the_first_prompt(call):
    result, _ = await call(["!"])
    assert (result.outcome, result.path) == ("abandoned", ["language"])


async def test_keys_pressed_during_a_prompt_interrupt_it_and_count(call):
    result, channel = await call(["^2", "^3"])
    assert result.route.queue == "sales" and result.language == "en"
    assert "ctigw/language_en" not in channel.played  # the second language prompt never started
    assert channel.ops("wait_for_digit") == []
    assert result.inputs == {"language": "2", "main_menu": "3"}


async def test_a_key_during_the_invalid_prompt_is_the_next_try(call):
    result, channel = await call(["1", "8", "^1"])
    assert result.route.queue == "billing"
    assert channel.played.count("ctigw/main_menu") == 1  # the menu was not replayed


# --- self-service: case status ------------------------------------------------------------------

async def test_case_status_for_an_identified_caller(call):
    caller = known_caller(open_cases=[Case(7001, "İnternet arızası", "in_progress")])
    services = Services(case=Case(7001, "İnternet arızası", "in_progress"))
    result, channel = await call(["4", "12345678", "1"], caller=caller, services=services)
    assert result.path == [
        "language", "welcome", "office_hours", "open_case_check", "main_menu", "case_status_check",
        "account_number", "case_status", "after_case_status", "agent_general"]
    assert channel.ops("say_number") == ["1"]
    assert channel.ops("say_digits") == ["7001"]
    assert "ctigw/status_in_progress" in channel.played
    assert result.inputs["account_number"] == "******78"
    assert result.inputs["case_status"] == "case 7001: in_progress"
    assert ("verify_account", 42) in services.calls


async def test_case_status_with_no_case_and_back_to_the_main_menu(call):
    result, channel = await call(["4", "12345678", "2", "2"], caller=known_caller(), services=Services(case=None))
    assert "ctigw/no_case" in channel.played
    assert channel.ops("say_digits") == []
    assert result.path[-3:] == ["main_menu", "support_wait", "agent_support"]


async def test_unknown_status_gets_the_generic_prompt(call):
    services = Services(case=Case(9, "x", "escalated"))
    _, channel = await call(["4", "12345678", ""], caller=known_caller(), services=services)
    assert "ctigw/status_unknown" in channel.played


async def test_case_status_for_an_unknown_caller_goes_to_an_agent(call):
    result, _ = await call(["1", "4"])
    assert result.path[-3:] == ["case_status_check", "not_identified", "agent_general"]


async def test_wrong_account_numbers_then_right(call):
    services = Services(case=Case(12, "Modem", "open"))
    script = ["4", "1234*678", "87654321", "12345678", "1"]  # a star, someone else's, then theirs
    result, channel = await call(script, caller=known_caller(), services=services)
    assert channel.played.count("ctigw/account_invalid") == 2
    assert result.inputs["account_number"] == "******78"
    assert result.path[-2:] == ["after_case_status", "agent_general"]
    assert services.calls.count(("verify_account", 42)) == 2  # the star never reached the CRM


async def test_account_number_retries_exhausted(call):
    result, channel = await call(["4", "1", "2", "3"], caller=known_caller())
    assert result.path[-2:] == ["account_number", "agent_general"]
    assert "account_number" not in result.inputs


async def test_crm_down_during_the_account_check_routes_to_an_agent(call):
    result, _ = await call(["4", "12345678"], caller=known_caller(), services=Services(fail={"verify_account"}))
    assert result.outcome == "route" and result.route.queue == "general"
    assert "CRM check account_belongs_to_caller failed" in result.error
    assert "12345678" not in result.error  # the exception's message quoted the digits


async def test_sensitive_digits_never_leave_the_run(call, caplog):
    caplog.set_level(logging.DEBUG)
    result, channel = await call(["4", "87654321", "12345678", ""], caller=known_caller(),
                                 services=Services(case=None))
    assert result.inputs["account_number"] == "******78"
    assert "12345678" not in repr(result) and "87654321" not in repr(result)
    assert "12345678" not in caplog.text and "87654321" not in caplog.text


async def test_sensitive_mask_character(call):
    result, _ = await call(["4", "12345678", ""], caller=known_caller(), sensitive_mask="#")
    assert result.inputs["account_number"] == "######78"


# --- out of hours ---------------------------------------------------------------------------------

async def test_evening_voicemail(call):
    result, channel = await call(["1", "1"], now=EVENING)
    assert result.outcome == "voicemail"
    assert result.path == ["language", "welcome", "office_hours", "closed_menu", "voicemail"]
    assert "Record(/var/spool/asterisk/ctigw-voicemail/1700000000.1.wav,5,120,k)" in channel.ops("exec_app")
    assert result.inputs["voicemail"] == "/var/spool/asterisk/ctigw-voicemail/1700000000.1.wav"


async def test_a_recording_that_fails_is_never_reported_as_a_voicemail(main_flow):
    # Record could not write (no such folder on Asterisk): RECORD_STATUS=ERROR.
    channel = ScriptedChannel(["1", "1"], variables={"RECORD_STATUS": "ERROR"})
    result = await run_flow(main_flow, channel, Caller(), Services(), now=EVENING)
    assert result.outcome != "voicemail"
    assert "voicemail" not in result.inputs
    assert result.path[-2:] == ["voicemail", "agent_general"]  # the flow's on_failure: a person


async def test_hanging_up_after_the_message_still_counts_as_voicemail(call):
    result, _ = await call(["1", "1", "!"], now=EVENING)
    assert result.outcome == "voicemail"


async def test_evening_callback_on_the_calling_number(call):
    result, channel = await call(["2", "2", "1"], now=EVENING)
    assert result.outcome == "callback"
    assert result.callback_number == "905321234567"
    assert channel.ops("say_digits") == ["905321234567"]
    assert result.language == "en"


async def test_evening_callback_on_another_number(call):
    result, _ = await call(["1", "2", "2", "05321112233"], now=EVENING)
    assert (result.outcome, result.callback_number) == ("callback", "05321112233")
    assert result.inputs["callback_number"] == "05321112233"


async def test_evening_nothing_pressed_says_goodbye(call):
    result, channel = await call(["1", "", ""], now=EVENING)
    assert result.outcome == "hangup"
    assert result.path[-2:] == ["closed_menu", "goodbye"]
    assert channel.played[-1] == "ctigw/goodbye"


async def test_public_holiday_and_weekend_are_closed(call):
    holiday = dt.datetime(2026, 10, 29, 11, 0, tzinfo=ISTANBUL)  # Cumhuriyet Bayramı, a Thursday
    saturday = dt.datetime(2026, 11, 28, 11, 0, tzinfo=ISTANBUL)
    for moment in (holiday, saturday):
        result, _ = await call(["1", "!"], now=moment)
        assert result.path[-1] == "closed_menu", moment


async def test_hours_are_judged_in_istanbul_time(call):
    # 06:30 UTC is 09:30 in Istanbul: open.
    result, _ = await call(["1", "!"], now=dt.datetime(2026, 11, 23, 6, 30, tzinfo=dt.timezone.utc))
    assert result.path[-1] == "main_menu"
    result, _ = await call(["1", "!"], now=lambda: dt.datetime(2026, 11, 23, 15, 30, tzinfo=dt.timezone.utc))
    assert result.path[-1] == "closed_menu"  # 18:30 in Istanbul


# --- long queues: the callback sub-flow ---------------------------------------------------------

async def test_long_queue_callback_declined_returns_to_the_queue(call):
    services = Services(waits={"billing": 300})
    result, channel = await call(["1", "1", "5"], services=services)
    assert result.path == [*MENU, "billing_wait", "billing_callback", "callback_offer:offer",
                           "callback_offer:keep_waiting", "agent_billing"]
    assert result.outcome == "route" and result.route.queue == "billing"
    assert ("estimated_wait", "billing") in services.calls
    assert "ctigw/keep_waiting" in channel.played


async def test_long_queue_callback_accepted(call):
    result, _ = await call(["1", "1", "1"], services=Services(waits={"billing": 300}))
    assert result.outcome == "callback"
    assert result.callback_number == "905321234567"
    assert result.path[-1] == "callback_offer:offer"


async def test_short_queue_goes_straight_through(call):
    result, _ = await call(["1", "1"], services=Services(waits={"billing": 30}))
    assert result.path[-2:] == ["billing_wait", "agent_billing"]


async def test_a_queue_without_a_wait_estimate_goes_straight_through(call):
    services = Services(waits={})  # the ACD has no estimate for the queue
    result, _ = await call(["1", "2"], services=services)
    assert ("estimated_wait", "support") in services.calls
    assert result.path[-2:] == ["support_wait", "agent_support"]
