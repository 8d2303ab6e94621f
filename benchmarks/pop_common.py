"""Shared by benchmarks/screen_pop.py's processes: the caller every pop shows, the pacer, and
the command loop a server process runs under the benchmark's main process."""
from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from gateway.crm.numbers import classify_ani
from gateway.crm.views import ActivitySummary, CallerView, CaseSummary


def caller() -> CallerView:
    """A known caller with 10 recent activities and an open case: a full-sized pop."""
    now = datetime.now(timezone.utc)
    history = [ActivitySummary(id=i, kind="call", occurred_at=now - timedelta(days=i), direction="inbound",
                               channel="phone", summary=f"Fatura itirazı: görüşme {i}, inceleme sürüyor",
                               agent_id="1006", outcome="answered") for i in range(10)]
    return CallerView(ani=classify_ani("05321234567"), known=True, customer_id=1, name="Çağrı Öztürk", language="tr",
                      tier="gold", segment="consumer", lifetime_value=Decimal("48750.00"), account_number="12345678",
                      recent_activities=history,
                      open_cases=[CaseSummary(1, "Fatura itirazı", "open", "high", now, "1006")],
                      last_agent_id="1006", calls_last_7_days=2, repeat_caller=True)


async def paced(count: int, rate: float, step, first: int = 0) -> dict[str, float]:
    """Run `step(i)` for i in first..first+count at `rate` a second, evenly spaced, one after
    the other; returns {call id: monotonic start} from what each step returns."""
    started: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    begin = loop.time()
    for n, i in enumerate(range(first, first + count)):
        delay = begin + n / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        call_id, t0 = await step(i)
        started[call_id] = t0
    return started


async def serve_commands(conn, hello: dict, phase) -> None:
    """Send `hello`; then for each ("phase", count, rate, first) received, run
    `phase(count, rate, first)` and send back its dict with "cpu": this process's CPU seconds
    over the phase; stop at ("stop",)."""
    conn.send(hello)
    while True:
        command = await asyncio.to_thread(conn.recv)
        if command[0] != "phase":
            return
        cpu = time.process_time()
        result = await phase(*command[1:])
        result["cpu"] = time.process_time() - cpu
        conn.send(result)
