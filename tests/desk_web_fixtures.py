"""The web application with the agent desk's services (tests/web/test_desk_api*.py): the real
app on uvicorn over the real ACD (Redis), the real call tracker and desk service, the CRM's
directory, activity log and wrap-up service on one migrated SQLite file with demo customers
(the same file holds the accounts and the audit log). Asterisk is the one port played by a
double (`Asterisk`: the CallerOnHold and Dialler interfaces of gateway.calls.agent_actions)."""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import httpx
import pytest

from gateway.acd.states import AgentState
from gateway.calls.agent_actions import AgentCallActions
from gateway.calls.events import DialFinished, DialStarted
from gateway.calls.tracker import CallTracker
from gateway.crm.activities import ActivityLog, CallActivity
from gateway.crm.demo_data import load_demo_data
from gateway.crm.directory import CustomerDirectory
from gateway.crm.migrate import upgrade_database
from gateway.crm.store import CrmStore
from gateway.desk.service import DeskService
from gateway.desk.wrapup import WrapupService
from gateway.routing import RouteRequest
from web_testing import add_accounts, sign_in

TR_BILLING = RouteRequest("billing", ("billing",), "tr", 2)
EN_BILLING = RouteRequest("billing", ("billing",), "en", 2)


class Asterisk:
    """What the desk's call actions ask of Asterisk, recorded."""

    def __init__(self):
        self.actions: list[tuple] = []

    async def return_to_hold(self, channel: str) -> None:
        self.actions.append(("hold", channel))

    async def to_fallback(self, channel: str) -> None:
        self.actions.append(("fallback", channel))

    async def originate(self, *, endpoint: str, number: str, call_id: str, owner: str) -> None:
        self.actions.append(("originate", endpoint, number, call_id))


@dataclass
class DeskWeb:
    web: object  # web_testing.RunningWeb
    acd: object
    tracker: CallTracker
    asterisk: Asterisk
    activities: ActivityLog
    directory: CustomerDirectory
    crm_url: str

    @property
    def audit(self):
        return list(reversed(self.web.services.audit.recent(500)))

    @contextlib.asynccontextmanager
    async def client(self, username: str | None = None):
        """A client signed in as `username` (None: not signed in); its X-CSRF-Token is set."""
        async with httpx.AsyncClient(base_url=self.web.url, follow_redirects=False, timeout=10) as client:
            if username is not None:
                r = await sign_in(client, username)
                assert r.status_code == 303, r.text
                session = await self.web.services.sessions.get(client.cookies["ctigw_session"])
                client.headers["X-CSRF-Token"] = session.csrf_token
            yield client

    async def connected_call(self, agent: str = "1001", linkedid: str = "L1", raw_ani: str = "+905551112233"):
        """An inbound call the agent is talking on (the tracker's and the ACD's view)."""
        call = self.tracker.begin(linkedid=linkedid, uniqueid=linkedid, channel=f"PJSIP/carrier-{linkedid}",
                                  raw_ani=raw_ani, dnis="100")
        self.tracker.queued(call, "billing")
        await self.tracker.ivr_finished(call)
        await self.acd.enqueue(linkedid, call.caller_channel, TR_BILLING)
        await self.tracker.handle(DialStarted(linkedid, agent, f"PJSIP/{agent}-1", 1.0))
        await self.tracker.handle(DialFinished(linkedid, agent, "ANSWER", 2.0))
        assert (await self.acd.get_agent_state(agent)).state is AgentState.ON_CALL
        return call

    async def finished_call(self, agent: str = "1001", linkedid: str = "1764000000.7",
                            raw_ani: str = "+905321234567", route: RouteRequest = TR_BILLING):
        """A call the agent answered and the caller hung up: its activity written, the agent in wrap-up."""
        from datetime import datetime, timezone

        await self.acd.enqueue(linkedid, f"PJSIP/in-{linkedid}", route)
        await self.acd.agent_answered(agent, linkedid)
        await self.activities.record_call(CallActivity(linkedid=linkedid, raw_ani=raw_ani, outcome="answered",
                                                       agent_id=agent, queue=route.queue,
                                                       started_at=datetime.now(timezone.utc)))
        await self.acd.call_ended(linkedid)
        assert (await self.acd.get_agent_state(agent)).state is AgentState.WRAP_UP
        return linkedid


@pytest.fixture
async def desk_web(start, acd, redis_client, key_prefix, tmp_path):
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"  # the file start_web keeps its accounts in
    await asyncio.to_thread(upgrade_database, url)
    await asyncio.to_thread(load_demo_data, url, 30, 3, seed=3)
    store = await CrmStore.open(url, region="TR")
    activities = ActivityLog(store, tmp_path / "spool.sqlite3")
    directory = await CustomerDirectory.open(url, region="TR")
    written = []

    async def record(call):
        written.append(call)

    desk = DeskService(redis_client, key_prefix)
    tracker = CallTracker(acd=acd, agent_for_endpoint=lambda e: acd.roster.by_endpoint(e).id
                          if acd.roster.by_endpoint(e) else None, record_activity=record,
                          desk=desk)
    asterisk = Asterisk()
    actions = AgentCallActions(acd=acd, tracker=tracker, asterisk=asterisk, dialler=asterisk, lookup=store.lookup,
                               instance="gw-1", default_region="TR")
    web = await start(desk=desk, wrapups=WrapupService(acd, activities, directory), directory=directory,
                      agent_calls=actions)
    add_accounts(web)
    yield DeskWeb(web, acd, tracker, asterisk, activities, directory, url)
    await directory.close()
    await activities.close()
    await store.close()
