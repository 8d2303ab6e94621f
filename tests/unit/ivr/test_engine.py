"""Engine rules on small flows: sub-flows, loop protection, failures, what a run never does."""
import logging

from ivr_fakes import Caller, Services

from gateway.ivr.engine import run_flow
from gateway.ivr.loader import load_flow
from gateway.ivr.scripted_channel import ScriptedChannel

HEAD = """
languages: [en]
defaults: {timeout: 3, retries: 1, invalid_prompt: ctigw/invalid, no_input_prompt: ctigw/silence}
"""


async def run(path, script, caller=None, services=None):
    channel = ScriptedChannel(script)
    result = await run_flow(load_flow(path), channel, caller or Caller(), services or Services())
    return result, channel


async def test_subflow_runs_and_returns_to_next(write_flow):
    write_flow("survey", HEAD + """
start: ask
nodes:
  ask: {type: menu, prompt: ctigw/rate, choices: {1: thanks, 2: thanks}}
  thanks: {type: return, prompt: ctigw/thanks}
""")
    top = write_flow("top", HEAD + """
start: hello
nodes:
  hello: {type: play, prompt: ctigw/hello, next: survey}
  survey: {type: subflow, flow: survey, next: bye}
  bye: {type: hangup, prompt: ctigw/bye}
""")
    result, channel = await run(top, ["2"])
    assert result.outcome == "hangup"
    assert result.path == ["hello", "survey", "survey:ask", "survey:thanks", "bye"]
    assert result.inputs == {"survey:ask": "2"}
    assert channel.played == ["ctigw/hello", "ctigw/rate", "ctigw/thanks", "ctigw/bye"]


async def test_a_subflow_can_end_the_call(write_flow):
    write_flow("transfer", HEAD + """
start: route
nodes:
  route: {type: route, queue: general, skills: [general], priority: 4}
""")
    top = write_flow("top", HEAD + """
start: go
nodes:
  go: {type: subflow, flow: transfer, next: bye}
  bye: {type: hangup}
""")
    result, _ = await run(top, [])
    assert result.outcome == "route" and result.route.priority == 4
    assert result.path == ["go", "transfer:route"]


async def test_step_limit_ends_a_loop_at_the_flows_failure_node(write_flow):
    path = write_flow("loop", HEAD + """
start: menu
max_steps: 10
on_failure: agent
nodes:
  menu: {type: menu, prompt: ctigw/menu, choices: {1: again, 2: agent}}
  again: {type: play, prompt: ctigw/again, next: menu}
  agent: {type: route, queue: general, skills: [general]}
""")
    result, _ = await run(path, ["1"] * 50)  # a caller who keeps pressing 1
    assert result.outcome == "route" and result.route.queue == "general"
    assert "step limit 10" in result.error
    assert len(result.path) == 11 and result.path[-1] == "agent"


async def test_step_limit_without_a_failure_node_hangs_up(write_flow):
    path = write_flow("loop", HEAD + """
start: a
max_steps: 10
nodes:
  a: {type: play, prompt: ctigw/a, next: b}
  b: {type: play, prompt: ctigw/b, next: a}
""")
    result, _ = await run(path, [])
    assert result.outcome == "hangup" and "step limit" in result.error
    assert len(result.path) == 10


async def test_retries_exhausted_without_on_failure_hangs_up_with_the_reason(write_flow):
    path = write_flow("menu", HEAD + """
start: menu
nodes:
  menu: {type: menu, prompt: ctigw/menu, choices: {1: bye}}
  bye: {type: hangup}
""")
    result, channel = await run(path, ["5", "6"])
    assert result.outcome == "hangup"
    assert result.error == "no valid choice at menu"
    assert channel.played == ["ctigw/menu", "ctigw/invalid", "ctigw/menu"]


async def test_node_on_failure_beats_the_flow_default(write_flow):
    path = write_flow("menu", HEAD + """
start: menu
on_failure: agent
nodes:
  menu: {type: menu, prompt: ctigw/menu, choices: {1: agent}, on_failure: bye}
  agent: {type: route, queue: general, skills: [general]}
  bye: {type: hangup}
""")
    result, _ = await run(path, ["", ""])
    assert result.path == ["menu", "bye"]


async def test_collect_with_pattern_and_luhn(write_flow):
    path = write_flow("card", HEAD + """
start: card
nodes:
  card:
    type: collect
    prompt: ctigw/card
    min_length: 16
    max_length: 16
    pattern: "4[0-9]+"
    luhn: true
    sensitive: true
    retries: 2
    next: done
  done: {type: hangup}
""")
    # Luhn fails, pattern fails (a Mastercard test number), then a valid Visa test number.
    result, channel = await run(path, ["4111111111111112", "5555555555554444", "4111111111111111"])
    assert result.outcome == "hangup" and result.error is None
    assert result.inputs == {"card": "**************11"}
    assert channel.played.count("ctigw/invalid") == 2


async def test_internal_error_falls_back_to_the_failure_route(write_flow, caplog):
    path = write_flow("top", HEAD + """
start: hello
on_failure: agent
nodes:
  hello: {type: play, prompt: ctigw/hello, next: agent}
  agent: {type: route, queue: general, skills: [general]}
""")

    class Broken(ScriptedChannel):
        async def stream_file(self, name, escape_digits=""):
            if name == "ctigw/hello":
                raise RuntimeError("boom")
            return await super().stream_file(name, escape_digits)

    caplog.set_level(logging.ERROR)
    result = await run_flow(load_flow(path), Broken([]), Caller(), Services())
    assert result.outcome == "route" and "boom" in result.error
    assert result.path == ["hello", "agent"]
    assert "IVR flow top failed" in caplog.text


async def test_return_outside_a_subflow_ends_politely(write_flow):
    path = write_flow("top", HEAD + """
start: back
nodes:
  back: {type: return}
""")
    result, _ = await run(path, [])
    assert result.outcome == "hangup" and "outside a sub-flow" in result.error


async def test_caller_facts_branches(write_flow):
    path = write_flow("facts", HEAD + """
start: who
nodes:
  who:
    type: branch
    cases:
      - when: {tier: [gold, platinum]}
        goto: vip
      - when: {known: false}
        goto: stranger
      - when: {language: en, repeat_caller: true}
        goto: again
    else: plain
  vip: {type: route, queue: vip, skills: [general]}
  stranger: {type: route, queue: stranger, skills: [general]}
  again: {type: route, queue: again, skills: [general]}
  plain: {type: route, queue: plain, skills: [general]}
""")
    cases = [
        (Caller(known=True, tier="gold"), "vip"),
        (Caller(known=False), "stranger"),
        (Caller(known=True, language="en", repeat_caller=True), "again"),
        (Caller(known=True, language="en"), "plain"),
    ]
    for caller, queue in cases:
        result, _ = await run(path, [], caller=caller)
        assert result.route.queue == queue, caller


async def test_voicemail_to_a_mailbox(write_flow):
    path = write_flow("vm", HEAD + """
start: vm
nodes:
  vm: {type: voicemail, mailbox: "100@ctigw", prompt: ctigw/leave}
""")
    result, channel = await run(path, [])
    assert result.outcome == "voicemail"
    assert channel.ops("exec_app") == ["VoiceMail(100@ctigw,u)"]


async def test_an_unknown_caller_is_the_default(write_flow):
    path = write_flow("top", HEAD + """
start: agent
nodes:
  agent: {type: route, queue: general, skills: [general], priority: 1}
""")
    result = await run_flow(load_flow(path), ScriptedChannel([]))
    assert result.route.priority == 1 and result.language == "en"
