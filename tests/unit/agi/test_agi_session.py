"""Each convenience method: the exact line sent, and what it makes of Asterisk's reply."""
import math

import pytest

from agi_fake_asterisk import Rig, settle
from gateway.agi.errors import AgiCommandError, AgiHangup, AgiPromptMissing

CASES = [
    # (method call, line sent, Asterisk's reply, return value or exception type)
    (lambda s: s.answer(), "ANSWER", "200 result=0", None),
    (lambda s: s.answer(), "ANSWER", "200 result=-1", AgiHangup),
    (lambda s: s.hangup(), "HANGUP", "200 result=1", None),
    (lambda s: s.stream_file("welcome"), 'STREAM FILE "welcome" ""', "200 result=0 endpos=10880", ""),
    (lambda s: s.stream_file("menu", "12#"), 'STREAM FILE "menu" "12#"', "200 result=35 endpos=800", "#"),
    (lambda s: s.wait_for_digit(5000), 'WAIT FOR DIGIT "5000"', "200 result=52", "4"),
    (lambda s: s.wait_for_digit(5000), 'WAIT FOR DIGIT "5000"', "200 result=0", ""),
    (lambda s: s.wait_for_digit(-1), 'WAIT FOR DIGIT "-1"', "200 result=-1", AgiHangup),
    (lambda s: s.wait_for_digit(5000), 'WAIT FOR DIGIT "5000"', "200 result=9999", AgiCommandError),
    (lambda s: s.wait_for_digit(5000), 'WAIT FOR DIGIT "5000"', "200 result=x", AgiCommandError),
    (lambda s: s.get_data("enter-pin"), 'GET DATA "enter-pin"', "200 result=1234", ("1234", False)),
    (lambda s: s.get_data("enter-pin", 3000), 'GET DATA "enter-pin" "3000"', "200 result=12 (timeout)",
     ("12", True)),
    (lambda s: s.get_data("enter-pin", max_digits=4), 'GET DATA "enter-pin" "0" "4"', "200 result= (timeout)",
     ("", True)),
    (lambda s: s.get_data("enter-pin", 3000, 4), 'GET DATA "enter-pin" "3000" "4"', "200 result=-1", AgiHangup),
    (lambda s: s.say_digits("905"), 'SAY DIGITS "905" ""', "200 result=0", ""),
    (lambda s: s.say_digits("905", "*"), 'SAY DIGITS "905" "*"', "200 result=42", "*"),
    (lambda s: s.say_number(1250), 'SAY NUMBER "1250" ""', "200 result=0", ""),
    (lambda s: s.say_number(7, "#"), 'SAY NUMBER "7" "#"', "200 result=-1", AgiHangup),
    (lambda s: s.set_variable("CTIGW_NEXT", "queue"), 'SET VARIABLE "CTIGW_NEXT" "queue"', "200 result=1", None),
    (lambda s: s.set_variable("NOTE", 'say "hi"'), 'SET VARIABLE "NOTE" "say \\"hi\\""', "200 result=1", None),
    (lambda s: s.get_variable("LANG"), 'GET VARIABLE "LANG"', "200 result=1 (tr)", "tr"),
    (lambda s: s.get_variable("LANG"), 'GET VARIABLE "LANG"', "200 result=1 ()", ""),
    (lambda s: s.get_variable("NOPE"), 'GET VARIABLE "NOPE"', "200 result=0", None),
    (lambda s: s.get_full_variable("${CHANNEL(linkedid)}"), 'GET FULL VARIABLE "${CHANNEL(linkedid)}"',
     "200 result=1 (1763893855.1)", "1763893855.1"),
    (lambda s: s.verbose("IVR done", 3), 'VERBOSE "IVR done" "3"', "200 result=1", None),
    (lambda s: s.exec_app("Playback", "tt-monkeys"), 'EXEC "Playback" "tt-monkeys"', "200 result=0", "reply:0"),
    (lambda s: s.exec_app("Answer"), 'EXEC "Answer"', "200 result=0", "reply:0"),
    (lambda s: s.exec_app("NoSuchApp"), 'EXEC "NoSuchApp"', "200 result=-2", "reply:-2"),
]


@pytest.mark.parametrize("call,line,reply,expected", CASES, ids=[c[1] + " <- " + c[2] for c in CASES])
async def test_convenience_methods(call, line, reply, expected):
    outcome = {}

    async def handler(session):
        try:
            outcome["value"] = await call(session)
        except Exception as exc:
            outcome["error"] = exc

    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    assert asterisk.take() == [line]
    asterisk.send(reply + "\n")
    await settle()
    if isinstance(expected, type) and issubclass(expected, Exception):
        assert isinstance(outcome.get("error"), expected), outcome
    elif isinstance(expected, str) and expected.startswith("reply:"):
        assert outcome["value"].result == expected[len("reply:"):]
    else:
        assert outcome == {"value": expected}


@pytest.mark.parametrize("call", [
    lambda s: s.stream_file("x", "not digits"),
    lambda s: s.say_digits("12a"),
    lambda s: s.exec_app("Dial,PJSIP/x"),
    lambda s: s.verbose("x", level=9),
    lambda s: s.wait_for_digit("5000"),
    lambda s: s.say_number(True),
    lambda s: s.get_variable("A\nB"),
])
async def test_bad_arguments_are_refused_before_sending(call):
    outcome = {}

    async def handler(session):
        try:
            await call(session)
        except (ValueError, TypeError) as exc:
            outcome["error"] = exc

    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    assert "error" in outcome and asterisk.take() == []


async def test_timeouts_of_commands_that_wait_on_purpose():
    budgets = []

    class Recorder:
        command_timeout = 30.0
        hung_up = False

        def send_command(self, line, timeout):
            budgets.append(timeout)
            raise RuntimeError("stop here")

    from gateway.agi.environment import AgiEnvironment, AgiRequest
    from gateway.agi.session import AgiSession

    session = AgiSession(Recorder(), AgiEnvironment(), AgiRequest("x"), None)
    for call in (session.wait_for_digit(5000), session.wait_for_digit(-1), session.get_data("p", 2000, 4),
                 session.get_data("p"), session.stream_file("long", timeout=120), session.answer()):
        with pytest.raises(RuntimeError):
            await call
    assert budgets == [35.0, math.inf, 38.0, None, 120, None]


@pytest.mark.parametrize("status_reply,expected", [
    ("200 result=6", AgiPromptMissing),  # the channel is up: the sound file is missing
    ("511 Command Not Permitted on a dead channel or intercept routine", AgiHangup),
    ("HANGUP", AgiHangup),
])
async def test_a_failed_playback_is_told_apart_from_a_hang_up(status_reply, expected):
    # Asterisk 22 answers both a missing file and a hang-up with result=-1 (see
    # tests/data/captures): the session asks about the channel before deciding.
    outcome = {}

    async def handler(session):
        try:
            await session.stream_file("ctigw/nope", "12")
        except Exception as exc:
            outcome["error"] = exc

    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    assert asterisk.take() == ['STREAM FILE "ctigw/nope" "12"']
    asterisk.send("200 result=-1 endpos=0\n")
    await settle()
    if status_reply != "HANGUP":
        assert asterisk.take() == ["CHANNEL STATUS"]
    asterisk.send(status_reply + "\n")
    await settle()
    assert type(outcome.get("error")) is expected, outcome
