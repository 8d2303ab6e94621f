"""Queue policy files: the demo one, folding relax steps, and what validation rejects."""
import textwrap
from pathlib import Path

import pytest

from gateway.acd.errors import QueueConfigError
from gateway.acd.queue_config import Stage, load_queue_config, queue_config_path_for
from gateway.acd.roster import load_roster

AGENTS = Path(__file__).resolve().parents[3] / "agents"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "queues.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_demo_queues_fit_the_demo_roster_and_the_ivr_queue_names():
    roster = load_roster(AGENTS / "roster.yaml")
    config = load_queue_config(queue_config_path_for(AGENTS / "roster.yaml"), roster=roster,
                               default_wrapup_seconds=7)
    assert set(config.names()) == {"billing", "support", "sales", "complaints", "general"}
    billing = config.policy("billing")
    assert billing.stages == (Stage(0, 5, False), Stage(30, 3, False), Stage(90, 3, True))
    assert billing.terminal_step.overflow == "general"
    assert billing.wrapup_seconds == 15
    assert config.policy("sales").wrapup_seconds == 7  # the [acd] wrapup_seconds default
    assert config.policy("complaints").terminal_step.outcome == "voicemail"
    assert (config.aging_seconds_per_point, config.fit_seconds_per_level) == (30, 6)
    assert config.tier_points == {"platinum": 3, "gold": 2, "silver": 1, "bronze": 0}  # the IVR adds none


def test_relax_steps_are_cumulative(tmp_path):
    config = load_queue_config(write(tmp_path, """
        defaults: {min_proficiency: 8}
        queues:
          q:
            team: t
            skills: [s]
            relax:
              - {after: 10, any_team_agent: true}
              - {after: 20, min_proficiency: 2}
              - {after: 30, outcome: callback}
    """))
    assert config.policy("q").stages == (Stage(0, 8, False), Stage(10, 8, True), Stage(20, 2, True))


def test_problems_name_file_line_and_queue(tmp_path):
    path = write(tmp_path, """
        queues:
          a:
            skills: [s]
            relax:
              - {after: 30, min_proficiency: 3}
              - {after: 20, any_team_agent: true}
              - {after: 40, overflow: nowhere, outcome: voicemail}
              - {after: 50, min_proficiency: 11}
          b:
            skills: []
            wrapup: 5
            relax:
              - {after: 5}
    """)
    with pytest.raises(QueueConfigError) as caught:
        load_queue_config(path)
    text = str(caught.value)
    assert f"{path}:7: queue a: relax steps must have increasing 'after'" in text
    assert f"{path}:7: queue a: any_team_agent needs the queue's 'team'" in text
    assert f"{path}:8: queue a: a step either overflows or offers an outcome, not both" in text
    assert f"{path}:9: queue a: no step may follow an overflow/outcome step" in text
    assert f"{path}:9: queue a: relax step min_proficiency must be an integer 1..10, got 11" in text
    assert "queue a: overflow to unknown queue 'nowhere'" in text
    assert f"{path}:11: queue b: unknown key 'wrapup'" in text
    assert "queue b: 'skills' must be a non-empty list" in text
    assert f"{path}:14: queue b: relax step at 5.0s changes nothing" in text


def test_tier_points_name_tiers_of_the_one_tier_table(tmp_path):
    path = write(tmp_path, """
        priority:
          tiers: {Gold: 2, diamond: 5}
        queues:
          a: {skills: [s]}
    """)
    with pytest.raises(QueueConfigError) as caught:
        load_queue_config(path)
    assert "priority: unknown tier 'diamond' (tiers: platinum, gold, silver, bronze, standard, lead)" in str(caught.value)
    assert "Gold" not in str(caught.value)  # tiers are matched without regard to case


def test_overflow_cycles_are_rejected(tmp_path):
    path = write(tmp_path, """
        queues:
          a: {skills: [s], relax: [{after: 10, overflow: b}]}
          b: {skills: [s], relax: [{after: 10, overflow: a}]}
          c: {skills: [s], relax: [{after: 10, overflow: c}]}
    """)
    with pytest.raises(QueueConfigError) as caught:
        load_queue_config(path)
    text = str(caught.value)
    assert "queue a: overflow cycle a -> b -> a" in text
    assert "queue c: a queue cannot overflow to itself" in text


def test_queues_must_fit_the_roster(tmp_path):
    roster = load_roster(AGENTS / "roster.yaml")
    path = write(tmp_path, """
        queues:
          q: {skills: [astrology], team: night_shift}
    """)
    with pytest.raises(QueueConfigError) as caught:
        load_queue_config(path, roster=roster)
    assert "queue q: no agent in" in str(caught.value) and "has skill 'astrology'" in str(caught.value)
    assert "queue q: team 'night_shift' is not in" in str(caught.value)


def test_a_key_written_twice_is_refused_with_file_and_line(tmp_path):
    path = write(tmp_path, """
        queues:
          a: {skills: [s]}
          b: {skills: [s]}
          a: {skills: [t]}
    """)
    with pytest.raises(QueueConfigError) as caught:
        load_queue_config(path)
    assert caught.value.problems == [f"{path}:5: key 'a' written twice"]


def test_values_of_the_wrong_kind_say_what_was_expected(tmp_path):
    path = write(tmp_path, """
        priority: {aging_seconds_per_point: "30", tiers: {gold: lots}}
        defaults: {wrapup_seconds: ten}
        queues:
          q:
            skills: s
            affinity_wait_seconds: -1
            relax:
              - {after: soon, min_proficiency: 3}
              - {after: 60, any_team_agent: yes, outcome: later}
    """)
    with pytest.raises(QueueConfigError) as caught:
        load_queue_config(path)
    assert caught.value.problems == [
        f"{path}:2: priority: aging_seconds_per_point must be a positive number",
        f"{path}:2: priority: tier 'gold': points must be a number, got 'lots'",
        f"{path}:3: defaults: wrapup_seconds must be a number >= 0, got 'ten'",
        f"{path}:6: queue q: affinity_wait_seconds must be a number >= 0, got -1",
        f"{path}:9: queue q: relax step needs 'after' (seconds of waiting >= 0)",
        f"{path}:10: queue q: any_team_agent must be true or false",  # YAML 1.2: yes is text
        f"{path}:10: queue q: outcome must be one of voicemail, callback, got 'later'",
    ]


def test_a_queue_is_named_for_agents_in_their_language_or_by_its_key(tmp_path):
    config = load_queue_config(write(tmp_path, """
        queues:
          billing: {tr: Fatura, en: Billing, skills: [billing]}
          vip: {skills: [vip]}
    """))
    billing, vip = config.policy("billing"), config.policy("vip")
    assert (billing.label("tr"), billing.label("en"), vip.label("tr"), vip.label("en")) == \
        ("Fatura", "Billing", "vip", "vip")
    with pytest.raises(QueueConfigError) as refused:
        load_queue_config(write(tmp_path, """
            queues:
              billing: {tr: "Fatura\\nİade", skills: [billing]}
        """))
    assert "queue billing: tr" in str(refused.value)
