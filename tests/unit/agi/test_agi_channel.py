"""A FastAGI session as the IVR's Channel (gateway.calls.agi_channel): FastAGI's errors reach
the IVR as the channel's own, and a hang-up mid-flow ends the run as an abandoned call."""
import pytest

from agi_fake_asterisk import Rig, settle
from gateway.calls.agi_channel import AgiChannel
from gateway.ivr.channel import NO_SUCH_APPLICATION, CallerHungUp, ChannelTimeout, PromptMissing
from gateway.ivr.engine import run_flow
from gateway.ivr.loader import parse_flow_text


async def through_channel(operation, *replies: str):
    """Run `operation(channel)` on a real session; Asterisk answers each command in turn."""
    outcome = {}

    async def handler(session):
        try:
            outcome["value"] = await operation(AgiChannel(session))
        except Exception as exc:
            outcome["error"] = exc

    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    for reply in replies:
        assert asterisk.take()  # a command was sent
        asterisk.send(reply + "\n")
        await settle()
    return outcome, rig


@pytest.mark.parametrize("replies, expected", [
    (["200 result=-1 endpos=0", "511 Command Not Permitted on a dead channel or intercept routine"], CallerHungUp),
    (["200 result=-1 endpos=0", "200 result=6"], PromptMissing),
    (["HANGUP"], CallerHungUp),
])
async def test_fastagi_errors_become_the_channels_own(replies, expected):
    outcome, _ = await through_channel(lambda ch: ch.stream_file("ctigw/nope", "12"), *replies)
    assert type(outcome.get("error")) is expected, outcome


async def test_a_silent_asterisk_is_a_channel_timeout():
    outcome, rig = await through_channel(lambda ch: ch.get_variable("UNIQUEID"))
    rig.clock.advance(3600)
    await settle()
    assert type(outcome.get("error")) is ChannelTimeout, outcome


@pytest.mark.parametrize("reply, expected", [("200 result=-2", NO_SUCH_APPLICATION), ("200 result=0", 0)])
async def test_exec_app_returns_the_applications_result(reply, expected):
    outcome, _ = await through_channel(lambda ch: ch.exec_app("Record", "x.wav,5,120,k"), reply)
    assert outcome == {"value": expected}


FLOW = """
start: menu
nodes:
  menu: {type: menu, prompt: ctigw/menu, choices: {"1": agent}, timeout: 5, retries: 0}
  agent: {type: route, queue: general, skills: [general]}
"""


async def test_a_caller_hanging_up_mid_flow_is_an_abandoned_call():
    flow, problems = parse_flow_text(FLOW, "inline.yaml")
    assert problems == []
    outcome, _ = await through_channel(lambda ch: run_flow(flow, ch), "HANGUP")
    assert (outcome["value"].outcome, outcome["value"].path) == ("abandoned", ["menu"])
