"""`ctigw acd check` (no Redis needed), run as the user would."""
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]


def ctigw(*args, env=None):
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", *args], cwd=PROJECT, capture_output=True,
                          text=True, env=env, timeout=60)


def test_check_summarises_the_demo_roster_and_queues():
    done = ctigw("acd", "check")
    assert done.returncode == 0, done.stderr
    assert "20 agents in 4 teams" in done.stdout
    assert "queue billing: skills billing; 0s: min 5 -> 30s: min 3 -> 90s: min 3 or team, " \
           "after 300s overflow to general; wrap-up 15s" in done.stdout
    assert done.stdout.rstrip().endswith("roster and queues OK")


def test_check_lists_every_problem_and_fails(tmp_path):
    roster = tmp_path / "roster.yaml"
    roster.write_text((PROJECT / "agents" / "roster.yaml").read_text(encoding="utf-8")
                      .replace("skills: {billing: 9, general: 6}", "skills: {billing: 19, general: 6}")
                      .replace("team: sales\n    languages: [en]\n    skills: {sales: 6",
                               "team: marketing\n    languages: [en]\n    skills: {sales: 6"), encoding="utf-8")
    done = ctigw("acd", "check", "--roster", str(roster), "--queues", str(PROJECT / "agents" / "queues.yaml"))
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{roster}:") and "agent 1001: proficiency for 'billing'" in lines[0]
    assert "agent 1005: unknown team 'marketing'" in lines[1]
