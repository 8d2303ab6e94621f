"""The activity spool: durable, ordered, survives a restart, sets refused entries aside."""
from datetime import datetime, timezone

from gateway.crm.spool import ActivitySpool


def test_entries_come_back_in_order_with_their_types(tmp_path):
    spool = ActivitySpool(tmp_path / "spool.sqlite3")
    at = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=timezone.utc)
    for n in range(5):
        spool.append("call", {"linkedid": f"L{n}", "started_at": at, "wait_seconds": 1.5, "customer_id": None})
    spool.append("wrapup", {"linkedid": "L0", "notes": "Çağrı aradı"})
    head = spool.head(10)
    assert [e.params["linkedid"] for e in head] == ["L0", "L1", "L2", "L3", "L4", "L0"]
    assert head[0].params["started_at"] == at and head[-1].kind == "wrapup"
    assert head[-1].params["notes"] == "Çağrı aradı"
    spool.remove([head[0].seq, head[1].seq])
    assert [e.params["linkedid"] for e in spool.head(2)] == ["L2", "L3"]
    assert spool.pending_count() == 4


def test_a_reopened_spool_still_has_everything(tmp_path):
    path = tmp_path / "deep" / "spool.sqlite3"
    spool = ActivitySpool(path)
    spool.append("call", {"linkedid": "L1"})
    spool.append("call", {"linkedid": "L2"})
    spool.close()
    again = ActivitySpool(path)
    assert [e.params["linkedid"] for e in again.head()] == ["L1", "L2"]


def test_buried_entries_are_kept_but_no_longer_replayed(tmp_path):
    spool = ActivitySpool(tmp_path / "spool.sqlite3")
    first = spool.append("call", {"linkedid": "L1"})
    spool.append("call", {"linkedid": "L2"})
    spool.note_failure(first, "connection refused")
    assert spool.head()[0].attempts == 1
    spool.bury(first, "value too long")
    assert [e.params["linkedid"] for e in spool.head()] == ["L2"]
    assert (spool.pending_count(), spool.dead_count()) == (1, 1)
    (entry, reason), = spool.dead_entries()
    assert entry.params == {"linkedid": "L1"} and reason == "value too long"
