"""The CRM goes away mid-run and comes back: lookups degrade, activities are spooled and then
written exactly once, in order. SQLite: its folder is moved away. PostgreSQL: a throwaway
cluster is stopped with pg_ctl and started again."""
from datetime import datetime, timedelta, timezone

from gateway.crm.activities import ActivityLog, CallActivity
from gateway.crm.store import CrmStore
from waiting import wait_until

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)


def call(n: int, **fields) -> CallActivity:
    fields.setdefault("outcome", "answered")
    return CallActivity(linkedid=f"out-{n:03d}", raw_ani="05321234567", started_at=T0 + timedelta(minutes=n),
                        **fields)


def written(sql, url) -> list[tuple]:
    return sql.rows(url, "SELECT linkedid, outcome, agent_id, disposition FROM activities "
                         "WHERE linkedid LIKE 'out-%' ORDER BY id")


async def test_outage_spools_then_the_flusher_writes_everything_once_in_order(outage_crm, tmp_path, sql, caplog):
    outage, url = outage_crm
    store = await CrmStore.open(url)
    log = ActivityLog(store, tmp_path / "spool.sqlite3", retry_initial=0.05, retry_max=0.2)
    try:
        for n in range(3):
            assert await log.record_call(call(n)) is not None  # written directly
        assert (await store.lookup("05321234567")).crm_available

        outage.stop()
        view = await store.lookup("05321234567")
        assert not view.known and not view.crm_available  # no exception, an unknown-caller view
        for n in range(3, 9):
            assert await log.record_call(call(n, outcome="abandoned_queue")) is None
        await log.record_call(call(5, outcome="answered", agent_id="agent007"))  # more information later
        await log.add_wrapup("out-004", "agent003", "resolved", "spooled wrap-up")
        assert log.spooled_count() == 8
        assert "spooling activities" in caplog.text

        outage.start()
        await wait_until(lambda: log.spooled_count() == 0, 30, "the spool to empty")  # the background flusher, unasked
    finally:
        await log.close()
    rows = written(sql, url)
    assert [r[0] for r in rows] == [f"out-{n:03d}" for n in range(9)]  # each once, in order
    by_id = {r[0]: r for r in rows}
    assert by_id["out-005"][1:3] == ("answered", "agent007")
    assert by_id["out-004"][3] == "resolved"
    assert by_id["out-006"][1] == "abandoned_queue"
    assert log.dead_count() == 0
    assert (await store.lookup("05321234567")).crm_available
    await store.close()


async def test_explicit_flush_and_a_restart_in_between(outage_crm, tmp_path, sql):
    outage, url = outage_crm
    spool = tmp_path / "spool.sqlite3"
    store = await CrmStore.open(url)
    # A long backoff: only flush() and start() can empty the spool in this test.
    first = ActivityLog(store, spool, retry_initial=600, retry_max=600)
    outage.stop()
    for n in range(5):
        await first.record_call(call(n))
    await first.record_call(call(2, outcome="transferred"))
    assert first.spooled_count() == 6
    assert await first.flush() == 0 and first.spooled_count() == 6  # still down: nothing written, nothing lost
    await first.close()  # the gateway stops with activities spooled

    outage.start()
    second = ActivityLog(store, spool, retry_initial=600, retry_max=600)  # the next run
    assert second.spooled_count() == 6
    assert await second.flush() == 6
    assert second.spooled_count() == 0
    assert await second.flush() == 0
    await second.record_call(call(9))  # direct again
    await second.close()
    rows = written(sql, url)
    assert [r[0] for r in rows] == ["out-000", "out-001", "out-002", "out-003", "out-004", "out-009"]
    assert dict((r[0], r[1]) for r in rows)["out-002"] == "transferred"
    await store.close()


async def test_writes_wait_behind_the_spool_to_keep_order(outage_crm, tmp_path, sql):
    """After an outage, a new write goes behind the spooled ones, not ahead of them."""
    outage, url = outage_crm
    store = await CrmStore.open(url)
    log = ActivityLog(store, tmp_path / "spool.sqlite3", retry_initial=600, retry_max=600)
    try:
        outage.stop()
        await log.record_call(call(1, outcome="abandoned_queue"))
        outage.start()
        await log.record_call(call(1, outcome="answered", agent_id="agent007"))  # the DB is back
        assert log.spooled_count() == 2  # queued behind the first, not written past it
        await log.flush()
    finally:
        await log.close()
    assert written(sql, url) == [("out-001", "answered", "agent007", None)]
    await store.close()
