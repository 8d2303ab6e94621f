"""The roster file: the demo roster the end-to-end tests rely on, and what validation reports."""
import textwrap
from pathlib import Path

import pytest

from gateway.acd.errors import RosterError
from gateway.acd.roster import load_roster

DEMO = Path(__file__).resolve().parents[3] / "agents" / "roster.yaml"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "roster.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_demo_roster_has_the_agents_the_end_to_end_tests_use():
    roster = load_roster(DEMO)
    expected = {
        "1001": ("billing", ("tr",), "billing", 9),
        "1002": ("billing", ("tr",), "billing", 5),
        "1003": ("billing", ("en",), "billing", 9),
        "1004": ("support", ("tr",), "tech_support", 7),
        "1005": ("sales", ("en",), "sales", 6),
    }
    for agent_id, (team, languages, skill, level) in expected.items():
        agent = roster.agent(agent_id)
        assert (agent.team, agent.languages, agent.proficiency(skill)) == (team, languages, level)
        assert roster.by_endpoint(agent_id) is agent
    assert roster.all_skills() == {"billing", "tech_support", "sales", "complaints", "general"}
    assert {t.id for t in roster.teams} == {"billing", "support", "sales", "complaints"}
    assert {a.endpoint for a in roster.agents} == {str(n) for n in range(1001, 1021)}
    assert roster.all_languages() >= {"tr", "en"}


def test_no_other_turkish_agent_outranks_1001_in_billing():
    # The end-to-end routing test expects a Turkish billing call to reach 1001 first.
    roster = load_roster(DEMO)
    rivals = [a for a in roster.agents if a.id != "1001" and a.speaks("tr") and a.proficiency("billing") >= 9]
    assert rivals == []


def test_lookups_of_unknown_ids_return_none():
    roster = load_roster(DEMO)
    assert roster.agent("9999") is None
    assert roster.by_endpoint("9999") is None


def test_numbers_in_yaml_become_string_ids_and_language_codes_are_normalised(tmp_path):
    roster = load_roster(write(tmp_path, """
        teams: [{id: t}]
        agents:
          - {id: 7, name: Ali, endpoint: 1007, team: t, languages: [TR, tr, en], skills: {billing: 3}}
    """))
    agent = roster.agent("7")
    assert agent.endpoint == "1007"
    assert agent.languages == ("tr", "en")


def test_every_problem_is_reported_with_file_line_and_agent(tmp_path):
    path = write(tmp_path, """
        teams:
          - {id: billing, name: Billing}
        agents:
          - id: "1"
            endpoint: "1001"
            team: billing
            languages: [tr]
            skills: {billing: 11}
          - id: "2"
            endpoint: "1001"
            team: nowhere
            languages: [xx]
            skills: {billing: 5}
          - id: "1"
            endpoint: "1003"
            team: billing
            languages: [en]
            skills: {billing: 0}
    """)
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    problems = caught.value.problems
    text = "\n".join(problems)
    assert f"{path}:5: agent 1: proficiency for 'billing' must be an integer 1..10, got 11" in problems
    assert f"{path}:10: agent 2: endpoint 1001 is already agent 1's" in problems
    assert f"{path}:10: agent 2: unknown team 'nowhere'" in text
    assert f"{path}:10: agent 2: unknown language code 'xx'" in text
    assert f"{path}:15: agent 1: duplicate agent id (first on line 5)" in problems
    assert f"{path}:15: agent 1: proficiency for 'billing' must be an integer 1..10, got 0" in problems
    assert len(problems) == 6


def test_missing_pieces_and_unknown_keys(tmp_path):
    path = write(tmp_path, """
        teams: [{id: t}]
        agents:
          - {id: a, team: t, languages: [], skills: {}, phone: x}
    """)
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    text = str(caught.value)
    assert "agent a: unknown key 'phone'" in text
    assert "agent a: missing endpoint" in text
    assert "agent a: 'languages' must be a non-empty list" in text
    assert "agent a: 'skills' must be a non-empty mapping" in text


def test_unreadable_files_name_the_file(tmp_path):
    with pytest.raises(RosterError, match="file not found"):
        load_roster(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("teams: [\n  - {id: t\n", encoding="utf-8")
    with pytest.raises(RosterError, match=rf"{bad}:\d+: not valid YAML"):
        load_roster(bad)


def test_a_key_written_twice_is_refused_with_file_and_line(tmp_path):
    path = write(tmp_path, """
        teams: [{id: t}]
        agents:
          - id: "1"
            endpoint: "1001"
            team: t
            languages: [tr]
            skills: {billing: 5}
            skills: {billing: 9}
    """)
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    assert caught.value.problems == [f"{path}:9: key 'skills' written twice"]


def test_values_of_the_wrong_kind_say_what_was_expected(tmp_path):
    path = write(tmp_path, """
        teams: [{id: t, colour: red}, {id: t}]
        agents:
          - {id: "1", endpoint: "1001", team: t, languages: tr, skills: {billing: "9"}}
          - {id: "2", endpoint: "1002", team: t, languages: [tr], skills: [billing]}
          - not an agent
    """)
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    assert caught.value.problems == [
        f"{path}:2: team t: unknown key 'colour' (known: id, name, supervisor)",
        f"{path}:2: team t: duplicate team id",
        f"{path}:4: agent 1: proficiency for 'billing' must be an integer 1..10, got '9'",
        f"{path}:5: agent 2: 'skills' must be a non-empty mapping of skill to proficiency, e.g. {{billing: 9}}",
        f"{path}:6: agent entry 'not an agent' must be a mapping",
    ]
