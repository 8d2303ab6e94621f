"""The pjsua2 test phones (gateway.rig.phones) against the real Asterisk: many calls at once,
more agents than one worker holds, and loud failures when a worker dies."""
from __future__ import annotations

import asyncio

import pytest

from gateway.rig.phones import AGENTS_PER_WORKER, PhoneWorkerError


async def test_concurrent_callers_each_get_their_digit_through(asterisk, phones):
    """Ten callers at once, each pressing its own digit; the FastAGI peer gets each one."""
    got: dict[str, str] = {}
    done = asyncio.Event()
    callers = {f"+90532000{n:04d}": str(n) for n in range(10)}

    async def session(reader, writer):
        env = {}
        while (line := (await reader.readline()).decode().strip()):
            key, _, value = line.partition(":")
            env[key] = value.strip()
        writer.write(b"WAIT FOR DIGIT 8000\n")
        await writer.drain()
        reply = (await reader.readline()).decode().strip()
        code = int(reply.split("result=")[1].split()[0])
        got[env["agi_callerid"]] = chr(code) if code > 0 else f"<{reply}>"
        writer.write(b"SET VARIABLE CTIGW_NEXT hangup\n")  # the verdict: done, hang up
        await reader.readline()
        writer.close()
        if len(got) == len(callers):
            done.set()

    server = await asyncio.start_server(session, asterisk.agi_host, asterisk.agi_port)
    try:
        calls = [await phones.call(number="100", caller_id=cid, digits=d, digits_after=1.0)
                 for cid, d in callers.items()]
        await asyncio.wait_for(done.wait(), 20)
    finally:
        server.close()
        await server.wait_closed()
    assert got == callers
    for call in calls:
        await call.wait_state("disconnected", timeout=10)  # the AGI's verdict: hang up


async def test_more_agents_than_one_worker_holds(asterisk, phones):
    numbers = [str(n) for n in range(1004, 1004 + 2 * AGENTS_PER_WORKER + 1)]
    agents = await asyncio.gather(*(phones.register_agent(n, answer_after=None) for n in numbers))
    assert all(a.registered for a in agents)
    assert len([w for w in phones.workers if w.role == "agents"]) == 3
    contacts = await asterisk.acli("pjsip show contacts")
    for n in numbers:
        assert f"{n}/sip:{n}@127.0.0.1" in contacts
    await asyncio.gather(*(a.unregister() for a in agents))


async def test_a_dead_worker_fails_loudly(asterisk, phones):
    call = await phones.call(number="100", caller_id="+905320000999")
    await call.wait_state("confirmed", timeout=10)
    worker = call.worker
    with pytest.raises(PhoneWorkerError, match="aborting on request: test crash"):
        await worker.request("abort", message="test crash")
    # Everything waiting on that worker's phones fails at once, with the same report.
    with pytest.raises(PhoneWorkerError, match="exited with status"):
        await call.wait_state("disconnected", timeout=10)
    with pytest.raises(PhoneWorkerError):
        await call.hangup()
    # The bank carries on with a new worker.
    again = await phones.call(number="100", caller_id="+905320000998")
    await again.wait_state("confirmed", timeout=10)
    await again.hangup()
    await again.wait_ended(timeout=5)
