"""Editing the roster or the queue file takes effect without a restart; agents keep their state."""
import asyncio
import shutil
from pathlib import Path

import pytest

from gateway.acd.errors import RosterError
from gateway.routing import RouteRequest
from gateway.acd.queue_config import load_queue_config
from gateway.acd.roster import load_roster
from gateway.acd.states import AgentState

AGENTS_DIR = Path(__file__).resolve().parents[2] / "agents"


@pytest.fixture
def files(tmp_path):
    shutil.copy(AGENTS_DIR / "roster.yaml", tmp_path / "roster.yaml")
    shutil.copy(AGENTS_DIR / "queues.yaml", tmp_path / "queues.yaml")
    return tmp_path


def edit(path, old, new):
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


async def make_file_acd(make_acd, files, **kw):
    roster = load_roster(files / "roster.yaml")
    queues = load_queue_config(files / "queues.yaml", roster=roster)
    return await make_acd(roster=roster, queues=queues, roster_path=str(files / "roster.yaml"),
                          queues_path=str(files / "queues.yaml"), **kw)


async def test_reload_keeps_agent_state_and_uses_the_new_skills(make_acd, files):
    acd = await make_file_acd(make_acd, files)
    await acd.login("1005")  # English sales agent
    await acd.login("1001")
    await acd.enqueue("b1", "PJSIP/in-1", RouteRequest("billing", ("billing",), "tr"))
    await acd.enqueue("e1", "PJSIP/in-2", RouteRequest("billing", ("billing",), "en"))
    assert acd.connector.connects == [("b1", "1001")]
    edit(files / "roster.yaml", "skills: {sales: 6, general: 4}", "skills: {sales: 6, general: 4, billing: 8}")
    await acd.reload()
    assert acd.roster.agent("1005").proficiency("billing") == 8
    assert acd.connector.connects[-1] == ("e1", "1005")  # the available agent was matched again
    assert (await acd.get_agent_state("1001")).state is AgentState.RESERVED  # untouched


async def test_an_invalid_edit_is_refused_and_the_old_roster_stays(make_acd, files):
    acd = await make_file_acd(make_acd, files)
    before = acd.roster
    edit(files / "roster.yaml", "skills: {billing: 9, general: 6}", "skills: {billing: 12, general: 6}")
    with pytest.raises(RosterError, match="agent 1001: proficiency for 'billing' must be an integer 1..10, got 12"):
        await acd.reload()
    assert acd.roster is before


async def test_queue_policy_edits_apply_to_waiting_calls(make_acd, files, clock):
    acd = await make_file_acd(make_acd, files)
    await acd.login("1019")  # billing 4
    await acd.enqueue("b1", "PJSIP/in-1", RouteRequest("billing", ("billing",), "tr"))
    edit(files / "queues.yaml", "    skills: [billing]\n    wrapup_seconds: 15\n",
         "    skills: [billing]\n    wrapup_seconds: 15\n    min_proficiency: 4\n")
    await acd.reload()
    await acd.tick()
    assert acd.connector.connects == [("b1", "1019")]


async def test_the_running_gateway_notices_the_file_change_by_itself(make_acd, files):
    acd = await make_file_acd(make_acd, files, background=True, tick_interval=0.02)
    acd.ticker.watch_every = 0.05
    await acd.login("1005")
    edit(files / "roster.yaml", "    name: James Turner\n", "    name: James T. Turner\n")
    deadline = asyncio.get_running_loop().time() + 5
    while acd.roster.agent("1005").name != "James T. Turner":
        assert asyncio.get_running_loop().time() < deadline, "roster change not picked up"
        await asyncio.sleep(0.02)
    assert (await acd.get_agent_state("1005")).state is AgentState.AVAILABLE


async def test_a_queue_with_waiting_callers_cannot_be_removed(make_acd, files):
    from gateway.acd.errors import QueueConfigError

    acd = await make_file_acd(make_acd, files)
    await acd.enqueue("g1", "PJSIP/in-1", RouteRequest("general", (), "tr"))
    text = (files / "queues.yaml").read_text(encoding="utf-8")
    without_general = text.replace("{after: 300, overflow: general}", "{after: 300, outcome: voicemail}")
    (files / "queues.yaml").write_text(without_general.split("  general:")[0], encoding="utf-8")
    with pytest.raises(QueueConfigError, match="queue general still has 1 waiting call"):
        await acd.reload()
    assert "general" in acd.queues.names()
