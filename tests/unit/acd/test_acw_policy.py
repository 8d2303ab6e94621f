"""After-call work and dispositions in the queue policy: defaults, per queue, and what is refused."""
import textwrap
from pathlib import Path

import pytest

from gateway.acd import acw, states
from gateway.acd.errors import AgentStateError, QueueConfigError
from gateway.acd.queue_config import AfterCallWork, load_queue_config
from gateway.acd.states import AgentState

AGENTS = Path(__file__).resolve().parents[3] / "agents"


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "queues.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_the_demo_queues_dispositions_and_a_mandatory_complaints_wrapup():
    config = load_queue_config(AGENTS / "queues.yaml")
    billing, complaints = config.policy("billing"), config.policy("complaints")
    assert billing.acw == AfterCallWork("optional", 15, None)
    assert complaints.acw == AfterCallWork("mandatory", 30, "no_disposition")
    assert complaints.wrapup_seconds == 30  # the countdown is the ACD's wrap-up timer
    resolved = billing.disposition("resolved")
    assert (resolved.label("tr"), resolved.label("en")) == ("Çözüldü", "Resolved")
    assert billing.disposition("DROP TABLE") is None


def test_a_queue_inherits_defaults_and_may_override_them(tmp_path):
    config = load_queue_config(write(tmp_path, """
        defaults:
          wrapup_seconds: 12
          acw: {mode: mandatory, seconds: 45, timeout_disposition: timeout}
          dispositions:
            - {code: sold, tr: Satıldı, en: Sold}
            - {code: timeout, tr: Süre doldu, en: Timed out}
        queues:
          a: {skills: [s]}
          b:
            skills: [s]
            acw: {mode: optional}
            dispositions: [{code: info, tr: Bilgi, en: Info}]
    """), default_wrapup_seconds=9)
    a, b = config.policy("a"), config.policy("b")
    assert (a.acw, a.wrapup_seconds, [d.code for d in a.dispositions]) == \
        (AfterCallWork("mandatory", 45, "timeout"), 45, ["sold", "timeout"])
    assert (b.acw, b.wrapup_seconds, [d.code for d in b.dispositions]) == (AfterCallWork("optional", 12), 12, ["info"])


def test_without_any_configuration_wrapup_is_optional_with_builtin_dispositions(tmp_path):
    policy = load_queue_config(write(tmp_path, "queues: {q: {skills: [s]}}"), default_wrapup_seconds=8).policy("q")
    assert policy.acw == AfterCallWork("optional", 8, None)
    assert {"resolved", "no_disposition"} <= {d.code for d in policy.dispositions}


@pytest.mark.parametrize("queue, message", [
    ("{skills: [s], acw: {mode: mandatory, seconds: 30}}", "needs a timeout_disposition"),
    ("{skills: [s], acw: {mode: mandatory, timeout_disposition: resolved}}", "needs its time limit"),
    ("{skills: [s], acw: {mode: sometimes}}", "mode"),
    ("{skills: [s], acw: {mode: mandatory, seconds: 30, timeout_disposition: gone}}",
     "timeout_disposition 'gone' is not one of its dispositions"),
    ("{skills: [s], dispositions: [{code: a, tr: A, en: A}, {code: a, tr: B, en: B}]}", "listed twice: a"),
    ("{skills: [s], dispositions: [{code: a, tr: A}]}", "en"),
    ("{skills: [s], dispositions: [{code: 'a b', tr: A, en: A}]}", "code"),
    ("{skills: [s], dispositions: [{code: a, tr: \"A\\u0000\", en: A}]}", "printable"),
    ("{skills: [s], dispositions: []}", "dispositions"),
])
def test_broken_after_call_work_is_refused_with_file_line_and_queue(tmp_path, queue, message):
    path = write(tmp_path, f"queues:\n  q: {queue}\n")
    with pytest.raises(QueueConfigError) as caught:
        load_queue_config(path)
    text = str(caught.value)
    assert f"{path}:2:" in text and "queue q" in text and message in text


# -- the rules on the agent's state ----------------------------------------------------------
MANDATORY = AfterCallWork("mandatory", 30, "no_disposition")
OPTIONAL = AfterCallWork("optional", 30)


def wrapping_up(queue="complaints", call_id="c1"):
    status = states.AgentStatus("1001", AgentState.ON_CALL, call_id=call_id, queue=queue, version=3)
    return states.call_ended(status, 100.0, call_id, 30)


def test_an_agent_may_end_an_optional_wrapup_but_not_a_mandatory_one():
    assert acw.agent_ends_wrapup(lambda q: OPTIONAL)(wrapping_up(), 101).state is AgentState.AVAILABLE
    with pytest.raises(AgentStateError, match="mandatory"):
        acw.agent_ends_wrapup(lambda q: MANDATORY)(wrapping_up(), 101)


def test_saving_the_disposition_ends_the_wrapup_of_that_call_only():
    status = wrapping_up(call_id="c1")
    assert acw.disposition_saved("c1")(status, 101).state is AgentState.AVAILABLE
    assert acw.disposition_saved("c2")(status, 101) is status  # an older call's wrap-up saved late


def test_a_timed_out_mandatory_wrapup_names_the_disposition_to_record():
    assert acw.timed_out(wrapping_up(), MANDATORY) == acw.WrapupTimedOut("1001", "c1", "complaints", "no_disposition")
    assert acw.timed_out(wrapping_up(), OPTIONAL) is None
