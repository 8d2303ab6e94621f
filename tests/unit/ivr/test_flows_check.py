"""`ctigw flows check`: one broken file per class of problem, and the example flows clean."""
from pathlib import Path

import pytest
from ivr_fakes import BROKEN_FLOWS, FLOWS_DIR, ROOT

from gateway.cli.main import main

ROSTER = ROOT / "agents" / "roster.yaml"

# file -> the exact problems (line, node, message start), in output order.
EXPECTED = {
    "bad_yaml.yaml": [(5, "-", "not valid YAML: while parsing a flow mapping (line 4)")],
    "duplicate_node.yaml": [(6, "bye", "node id written twice")],
    "schema_errors.yaml": [
        (10, "menu", "choices: 12 is not one DTMF key"),
        (11, "menu", "retries: expected a whole number from 0 to 9, got 'many'"),
        (12, "menu", "unknown key 'colour' for a menu node"),
        (16, "odd", "unknown or missing type 'teleport'"),
    ],
    "unknown_target.yaml": [(9, "menu", "goes to unknown node 'byee'")],
    "bad_schedule.yaml": [
        (5, "-", "schedule office: unknown time zone 'Europe/Ankara'"),
        (9, "-", "schedule shop: '9-18' is not a time range"),
    ],
    "missing_subflow.yaml": [(4, "survey", "sub-flow 'no_such_survey' not found")],
    "unreachable.yaml": [(10, "orphan", "unreachable: no path from start (menu)")],
    "dead_end.yaml": [
        (4, "who", "dead end: a caller matching no case has nowhere to go"),
        (9, "hello", "dead end: a play node needs `next`"),
    ],
    "loop_no_exit.yaml": [(10, "again", "loop with no exit: again -> once_more -> again")],
    "missing_prompt.yaml": [
        (4, "hello", "prompt 'ctigw/nowhere' is not in the sounds folder"),
        (4, "hello", "prompt 'vm-nosuchsound' is not in the sounds folder"),
    ],
    "missing_text.yaml": [(5, "-", "prompt ctigw/bye_bye has no text in en")],
    "unknown_skill.yaml": [(4, "agent", "skill 'astrology': no agent in the roster has it")],
    "unknown_queue.yaml": [
        (4, "wait", "queue 'astrology' is not in the ACD's queue configuration"),
        (10, "agent", "queue 'horoscopes' is not in the ACD's queue configuration"),
    ],
}


@pytest.fixture
def sounds(tmp_path) -> Path:
    """A sounds folder laid out like Asterisk's, with the stock sounds the test flows use."""
    root = tmp_path / "sounds"
    (root / "en" / "digits").mkdir(parents=True)
    (root / "en" / "vm-goodbye.gsm").write_bytes(b"")
    (root / "en" / "digits" / "1.gsm").write_bytes(b"")
    return root


@pytest.fixture
def roster(tmp_path) -> Path:
    """A roster with one skill and, beside it, a queue configuration with one queue."""
    path = tmp_path / "roster.yaml"
    path.write_text('teams: [{id: t, name: T}]\n'
                    'agents: [{id: "1", name: A, endpoint: "1", team: t, languages: [tr], skills: {general: 5}}]\n')
    (tmp_path / "queues.yaml").write_text("queues:\n  general: {skills: [general]}\n")
    return path


def check(capsys, *args) -> tuple[int, list[str], str]:
    code = main(["flows", "check", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err


def test_every_broken_file_is_covered():
    assert sorted(EXPECTED) == sorted(p.name for p in BROKEN_FLOWS.glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_class_of_problem_is_reported_as_file_line_node_message(name, capsys, sounds, roster, tmp_path):
    path = BROKEN_FLOWS / name
    code, lines, _ = check(capsys, path, "--sounds", sounds, "--roster", roster, "--prompts", tmp_path / "none")
    assert code == 1
    assert len(lines) == len(EXPECTED[name]), lines
    for line, (number, node, message) in zip(lines, EXPECTED[name]):
        assert line.startswith(f"{path}:{number}: {node}: {message}"), line


def test_example_flows_are_clean(capsys, sounds, tmp_path):
    roster_args = ["--roster", ROSTER] if ROSTER.is_file() else []
    code, lines, err = check(capsys, FLOWS_DIR / "main.yaml", FLOWS_DIR / "callback_offer.yaml",
                             "--sounds", sounds, "--prompts", tmp_path / "none", *roster_args)
    assert (code, lines) == (0, [])
    assert "2 flow file(s) checked: no problems" in err
    if ROSTER.is_file():
        assert "skills not checked" not in err
    if ROSTER.with_name("queues.yaml").is_file():
        assert "queue names not checked" not in err


def test_a_built_prompt_counts_as_existing(capsys, sounds, tmp_path, write_flow):
    path = write_flow("built", "start: bye\nnodes:\n  bye: {type: hangup, prompt: ctigw/recorded}\n")
    code, lines, _ = check(capsys, path, "--sounds", sounds, "--prompts", tmp_path / "prompts")
    assert code == 1 and "ctigw/recorded" in lines[0]
    (tmp_path / "prompts" / "tr" / "ctigw").mkdir(parents=True)
    (tmp_path / "prompts" / "tr" / "ctigw" / "recorded.wav").write_bytes(b"")
    code, lines, _ = check(capsys, path, "--sounds", sounds, "--prompts", tmp_path / "prompts")
    assert (code, lines) == (0, [])


def test_without_a_sounds_folder_stock_prompts_are_noted_not_failed(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CTIGW_RIG_ROOT", str(tmp_path / "no-rig"))
    monkeypatch.setenv("CTIGW_IVR_SOUNDS_DIR", "")
    code, lines, err = check(capsys, BROKEN_FLOWS / "missing_prompt.yaml", "--prompts", tmp_path / "none")
    assert (code, lines) == (0, [])
    assert "stock prompts not checked" in err


def test_a_missing_sounds_folder_is_an_error(capsys, tmp_path):
    code, _, err = check(capsys, FLOWS_DIR / "main.yaml", "--sounds", tmp_path / "nowhere")
    assert code == 2 and "does not exist" in err


def test_sounds_inside_a_chroot_follow_its_absolute_symlinks(tmp_path):
    from gateway.ivr.checker import SoundIndex

    chroot = tmp_path / "rig"
    sounds = chroot / "usr" / "share" / "asterisk" / "sounds"
    real = sounds / "en_US_f_Allison"
    real.mkdir(parents=True)
    (real / "vm-goodbye.gsm").write_bytes(b"")
    (chroot / "etc" / "alternatives").mkdir(parents=True)
    (chroot / "etc" / "alternatives" / "asterisk-prompt-en").symlink_to("/usr/share/asterisk/sounds/en_US_f_Allison")
    (sounds / "en").symlink_to("/etc/alternatives/asterisk-prompt-en")  # dangling outside the chroot
    index = SoundIndex([sounds])
    assert index.exists("vm-goodbye", ("tr",))
    assert not index.exists("vm-hello", ("tr",))


def test_the_flows_on_failure_is_an_exit_and_makes_its_node_reachable(capsys, sounds, tmp_path, write_flow):
    # `agent` is reached only when the menu's retries run out (the flow-wide on_failure), and
    # the menu <-> again loop has no other way out: both are fine.
    path = write_flow("fallback", """
start: menu
on_failure: agent
nodes:
  menu: {type: menu, prompt: vm-goodbye, choices: {1: again}}
  again: {type: play, prompt: vm-goodbye, next: menu}
  agent: {type: route, queue: general, skills: [general]}
""")
    code, lines, _ = check(capsys, path, "--sounds", sounds, "--prompts", tmp_path / "none")
    assert (code, lines) == (0, [])


def test_reachable_routes_are_those_a_caller_can_get_to_through_sub_flows_and_on_failure(write_flow):
    from gateway.ivr.checker import reachable_routes
    from gateway.ivr.loader import load_flow

    write_flow("survey", """
start: ask
nodes:
  ask: {type: menu, prompt: vm-goodbye, choices: {1: sales, 2: done}}
  sales: {type: route, queue: sales, skills: [sales]}
  done: {type: return}
""")
    path = write_flow("main", """
start: menu
on_failure: agent
nodes:
  menu: {type: menu, prompt: vm-goodbye, choices: {1: survey}}
  survey: {type: subflow, flow: survey, next: bye}
  bye: {type: hangup}
  agent: {type: route, queue: general, skills: [general]}
  orphan: {type: route, queue: complaints, skills: [complaints]}
""")
    routes = reachable_routes(load_flow(path))
    assert sorted((r.id, r.queue) for r in routes) == [("agent", "general"), ("sales", "sales")]
