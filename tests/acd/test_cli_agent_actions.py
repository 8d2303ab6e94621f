"""`ctigw acd login/not-ready/status` against the real Redis, in a process of their own."""
import os
import subprocess
import sys
from pathlib import Path

from gateway.acd.states import AgentState

PROJECT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("CTIGW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def ctigw(prefix, *args):
    env = {**os.environ, "CTIGW_REDIS_URL": REDIS_URL, "CTIGW_REDIS_KEY_PREFIX": prefix}
    return subprocess.run([sys.executable, "-m", "gateway.cli.main", "acd", *args], cwd=PROJECT,
                          capture_output=True, text=True, env=env, timeout=60)


async def test_agent_actions_from_the_command_line(make_acd, key_prefix):
    acd = await make_acd()
    done = ctigw(key_prefix, "login", "1001")
    assert (done.returncode, done.stdout.strip()) == (0, "agent 1001: available"), done.stderr
    done = ctigw(key_prefix, "not-ready", "1001", "--reason", "lunch")
    assert done.stdout.strip() == "agent 1001: not_ready (lunch)"
    status = await acd.get_agent_state("1001")
    assert (status.state, status.reason) == (AgentState.NOT_READY, "lunch")
    done = ctigw(key_prefix, "ready", "9999")
    assert done.returncode == 1 and "unknown agent '9999'" in done.stderr
    done = ctigw(key_prefix, "status", "--queue", "billing")
    assert done.returncode == 0, done.stderr
    assert any(line.startswith("1001 ") and "not_ready" in line for line in done.stdout.splitlines())
    assert "queue billing: 0 waiting" in done.stdout
