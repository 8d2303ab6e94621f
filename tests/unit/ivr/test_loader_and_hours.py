"""Schema rules that span keys, business-hours arithmetic, masking and Luhn."""
import asyncio
import datetime as dt
import os

import pytest
from ivr_fakes import ISTANBUL

from gateway.ivr.hours import is_open, parse_days, parse_ranges
from gateway.ivr.loader import FlowError, load_flow, parse_flow_text
from gateway.ivr.model import Schedule
from gateway.ivr.registry import FlowRegistry
from gateway.ivr.validation import luhn_ok, mask


def problems(text: str) -> list[str]:
    flow, found = parse_flow_text(text, "f.yaml")
    assert (flow is None) == bool(found)
    return [str(p) for p in found]


def test_rules_across_keys():
    found = problems("""
start: lang
languages: [tr, en]
prompts:
  ctigw/hi: {tr: "Merhaba", en: "Hello", neutral: true}
  welcome: {tr: "x"}
nodes:
  lang: {type: language, prompt: ctigw/hi, choices: {1: tr, 2: de}, default: tr, on_failure: num, next: num}
  num: {type: collect, prompt: ctigw/hi, min_length: 9, max_length: 8, next: cb}
  cb: {type: callback, prompt: ctigw/hi, accept: 1, other_number: 1, declined: agent}
  agent: {type: route, queue: general}
""")
    assert found == [
        "f.yaml:5: -: prompt ctigw/hi: a neutral prompt has exactly one text",
        "f.yaml:6: -: prompt 'welcome': prompts with text must be named ctigw/<name>",
        "f.yaml:8: lang: choices: 'de' is not one of the flow's languages ['tr', 'en']",
        "f.yaml:9: num: min_length is greater than max_length",
        "f.yaml:10: cb: other_number uses the same key as accept",
        "f.yaml:10: cb: other_number needs a number_prompt",
        "f.yaml:11: agent: a route node needs `skills` (the ACD matches agents on them)",
    ]


def test_tier_conditions_name_the_one_tier_table_and_flows_add_no_tier_points():
    found = problems("""
start: vip
tier_priority: {gold: 2}
nodes:
  vip:
    type: branch
    cases:
      - {when: {tier: [standard, lead, none]}, goto: agent}
      - {when: {tier: [diamond]}, goto: agent}
    else: agent
  agent: {type: route, queue: general, skills: [general]}
""")
    assert found == [
        "f.yaml:3: -: tier_priority is queue policy now: set the points in agents/queues.yaml, priority: tiers",
        "f.yaml:9: vip: cases: tier: expected some of platinum, gold, silver, bronze, standard, lead, none, got ['diamond']",
    ]


def test_missing_start_and_empty_nodes():
    assert problems("languages: [tr]\n") == [
        "f.yaml:1: -: `nodes` must be a mapping of node id to node",
        "f.yaml:1: -: `start` is missing: name the first node",
    ]
    assert problems("- a\n- b\n") == ["f.yaml:1: -: a flow file must be a mapping with `start` and `nodes`"]


def test_load_flow_raises_with_every_problem(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text("start: a\nnodes:\n  a: {type: play, next: b}\n  c: {type: hangup, colour: red}\n")
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    assert [(p.line, p.node) for p in caught.value.problems] == [(4, "c"), (3, "a")]
    assert "goes to unknown node 'b'" in str(caught.value)


def test_days_and_ranges():
    assert parse_days("mon-fri") == [0, 1, 2, 3, 4]
    assert parse_days("sat,sun") == [5, 6]
    with pytest.raises(ValueError):
        parse_days("fri-mon")
    assert parse_ranges("closed") == ()
    assert parse_ranges(["09:00-12:00", "13:00-24:00"])[1][1] == dt.time.max
    with pytest.raises(ValueError):
        parse_ranges("18:00-09:00")


def test_is_open_converts_to_the_schedule_zone():
    schedule = Schedule("office", "Europe/Istanbul", {0: parse_ranges("09:00-18:00")},
                        frozenset({dt.date(2026, 11, 30)}))
    monday_9_local = dt.datetime(2026, 11, 23, 9, 0, tzinfo=ISTANBUL)
    assert is_open(schedule, monday_9_local)
    assert not is_open(schedule, monday_9_local - dt.timedelta(seconds=1))
    assert not is_open(schedule, dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.timezone.utc))  # 18:00 local
    assert not is_open(schedule, dt.datetime(2026, 11, 30, 10, 0, tzinfo=ISTANBUL))  # holiday
    with pytest.raises(ValueError):
        is_open(schedule, dt.datetime(2026, 11, 23, 10, 0))


def test_mask_and_luhn():
    assert mask("12345678") == "******78"
    assert mask("1234") == "****"  # too short to show anything
    assert luhn_ok("79927398713") and not luhn_ok("79927398710") and not luhn_ok("12a4")


async def test_watch_reloads_in_the_background(tmp_path):
    path = tmp_path / "main.yaml"
    path.write_text("start: a\nnodes:\n  a: {type: route, queue: q, skills: [s], priority: 1}\n")
    registry = FlowRegistry(tmp_path, poll_interval=3600)
    first = registry.get("main")
    task = asyncio.ensure_future(registry.watch(interval=0.01))
    try:
        path.write_text("start: a\nnodes:\n  a: {type: route, queue: q, skills: [s], priority: 2}\n")
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
        for _ in range(100):
            await asyncio.sleep(0.01)
            if registry.get("main") is not first:  # get() itself would not poll for an hour
                break
        assert registry.get("main").nodes["a"].priority == 2
    finally:
        task.cancel()


def test_a_key_written_twice_inside_a_node_names_the_node_and_line():
    assert problems("start: a\nnodes:\n  a:\n    type: play\n    next: a\n    next: b\n") == [
        "f.yaml:6: a: key 'next' written twice",
    ]
    assert problems("start: a\nstart: b\nnodes:\n  a: {type: hangup}\n") == ["f.yaml:2: -: key 'start' written twice"]


def test_values_of_the_wrong_kind_say_what_was_expected():
    assert problems("""
start: a
languages: tr
max_steps: many
nodes:
  a: {type: menu, prompt: welcome.wav, choices: {1: a, x: a}, timeout: 0}
  b:
    type: branch
    cases:
      - when: {tier: diamond}
        goto: a
      - when: {open_case: yes}
        goto: a
""") == [
        "f.yaml:4: -: max_steps: expected a whole number from 10 to 10000, got 'many'",
        "f.yaml:6: a: prompt: 'welcome.wav' is not an Asterisk sound name (like vm-goodbye or ctigw/welcome, "
        "no extension)",
        "f.yaml:6: a: choices: 'x' is not one DTMF key (0-9, \"*\", \"#\")",
        "f.yaml:6: a: timeout: expected seconds (0 < s <= 120), got 0",
        "f.yaml:10: b: cases: tier: expected some of platinum, gold, silver, bronze, standard, lead, none, got 'diamond'",
        "f.yaml:12: b: cases: expected true or false, got 'yes'",
    ]
