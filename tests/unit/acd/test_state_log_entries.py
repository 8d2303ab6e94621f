"""The agent-state stream's entries: which changes make one, and how they read back."""
import json

from gateway.acd import states
from gateway.acd.state_log import entry_fields, parse_entry, sortable_id, starts_period
from gateway.acd.states import AgentStatus


def test_stream_ids_sort_as_text_in_the_order_redis_gave_them():
    in_order = ["999999999999-0", "1700000000000-9", "1700000000000-10", "1700000000001-0"]
    assert sorted(in_order, key=sortable_id) == in_order
    assert sorted(in_order) != in_order  # plain text order would get them wrong


def test_a_state_change_starts_a_period_and_a_pending_control_does_not():
    out = AgentStatus("1001")
    ready = states.login(out, 100.0)
    assert starts_period(out, ready)
    reserved = states.reserve(ready, 110.0, "c1", "billing")
    assert starts_period(ready, reserved)
    pending = states.not_ready(reserved, 111.0, "lunch")  # asked during the offer: kept for later
    assert pending.version == reserved.version + 1 and not starts_period(reserved, pending)
    again = states.not_ready(states.not_ready(ready, 120.0, "break"), 130.0, "lunch")
    assert starts_period(states.not_ready(ready, 120.0, "break"), again)  # another reason, another period


def test_an_entry_reads_back_as_the_change_it_records():
    status = states.not_ready(states.login(AgentStatus("1001"), 100.0), 123.456, "lunch")
    fields = json.loads(entry_fields(status, "gw2"))
    change = parse_entry(b"1700000000000-3", {k.encode(): v.encode() for k, v in fields.items()})
    assert (change.entry_id, change.agent_id, change.state, change.at, change.reason, change.instance) == \
        ("1700000000000-3", "1001", "not_ready", 123.456, "lunch", "gw2")


def test_a_trimmed_or_foreign_entry_reads_as_nothing():
    assert parse_entry("1-0", None) is None
    assert parse_entry("1-0", {b"op": b"reserve"}) is None
    assert parse_entry("1-0", {b"agent": b"1001", b"state": b"available", b"at": b"soon"}) is None
