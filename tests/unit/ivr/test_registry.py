"""FlowRegistry: reloads changed flows, keeps the last good one, never touches running calls."""
import logging
import os

import pytest

from gateway.ivr.loader import FlowError
from gateway.ivr.registry import FlowNotFound, FlowRegistry

GOOD = """
start: agent
nodes:
  agent: {type: route, queue: general, skills: [general], priority: PRIORITY}
"""


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def write(path, text, bump):
    path.write_text(text)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))  # a visibly newer mtime


@pytest.fixture
def setup(tmp_path):
    clock = Clock()
    write(tmp_path / "main.yaml", GOOD.replace("PRIORITY", "1"), 0)
    return tmp_path, clock, FlowRegistry(tmp_path, poll_interval=1.0, clock=clock)


def test_reloads_a_changed_file_and_running_calls_keep_their_version(setup):
    folder, clock, registry = setup
    in_call = registry.get("main")
    write(folder / "main.yaml", GOOD.replace("PRIORITY", "5"), 10)
    assert registry.get("main") is in_call  # polled at most once per interval
    clock.now = 1.5
    fresh = registry.get("main")
    assert fresh is not in_call
    assert fresh.nodes["agent"].priority == 5
    assert in_call.nodes["agent"].priority == 1  # the call that started earlier is untouched


def test_a_broken_edit_is_rejected_logged_once_and_the_last_good_version_stays(setup, caplog):
    folder, clock, registry = setup
    good = registry.get("main")
    write(folder / "main.yaml", GOOD.replace("PRIORITY", "1").replace("skills", "skils"), 10)
    caplog.set_level(logging.ERROR, logger="gateway.ivr.registry")
    assert registry.refresh() == []
    assert registry.get("main") is good
    assert "edit rejected" in caplog.text and "unknown key 'skils'" in caplog.text
    caplog.clear()
    clock.now = 5
    registry.get("main")
    assert caplog.text == ""  # the same broken edit is not reported again
    write(folder / "main.yaml", GOOD.replace("PRIORITY", "3"), 20)
    assert registry.refresh("main") == ["main"]
    assert registry.get("main").nodes["agent"].priority == 3


def test_a_subflow_change_reloads_its_parent(tmp_path):
    write(tmp_path / "child.yaml", "start: back\nnodes:\n  back: {type: return}\n", 0)
    write(tmp_path / "main.yaml", "start: go\nnodes:\n  go: {type: subflow, flow: child, next: bye}\n"
                                  "  bye: {type: hangup}\n", 0)
    registry = FlowRegistry(tmp_path, poll_interval=0)
    first = registry.get("main")
    write(tmp_path / "child.yaml", "start: back\nnodes:\n  back: {type: return, prompt: ctigw/x}\n", 10)
    second = registry.get("main")
    assert second is not first
    assert second.subflows["child"].nodes["back"].prompt == ("ctigw/x",)


def test_unknown_and_never_good_flows(tmp_path):
    registry = FlowRegistry(tmp_path)
    with pytest.raises(FlowNotFound):
        registry.get("nope")
    write(tmp_path / "bad.yaml", "start: x\nnodes: {}\n", 0)
    with pytest.raises(FlowError):
        registry.get("bad")


def test_a_deleted_file_keeps_the_last_good_version(setup):
    folder, clock, registry = setup
    good = registry.get("main")
    (folder / "main.yaml").unlink()
    clock.now = 2
    assert registry.get("main") is good
