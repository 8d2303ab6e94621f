"""The ACD's connector never lets an announcement land after a connect on one channel."""
import asyncio
from types import SimpleNamespace

from gateway.calls.ami_bridge import AmiConnector


class SlowAmi:
    """Records actions in the order they reach Asterisk; each takes a little while."""

    def __init__(self):
        self.sent = []

    async def action(self, name, **fields):
        await asyncio.sleep(0.01)
        self.sent.append((name, fields.get("Context") or fields.get("Variable")))


async def test_an_announcement_in_flight_finishes_before_the_connect_and_none_follows():
    ami = SlowAmi()
    connector = AmiConnector(ami, ring_timeout=15)
    call, agent = SimpleNamespace(channel="PJSIP/carrier-1"), SimpleNamespace(endpoint="1001")
    announcing = asyncio.ensure_future(connector.announce(call, 2, 130))
    await asyncio.sleep(0.005)  # the announcement's first Setvar is on its way
    await asyncio.gather(announcing, connector.connect(call, agent), connector.announce(call, 1, 10))
    redirects = [ctx for name, ctx in ami.sent if name == "Redirect"]
    assert redirects == ["ctigw-announce", "ctigw-connect"]  # the connect is last, nothing after
    assert ("Setvar", "CTIGW_WAIT_MINUTES") in ami.sent  # 130 s -> 3 minutes, rounded up


async def test_announcements_go_on_for_a_caller_no_connect_has_started_for():
    ami = SlowAmi()
    connector = AmiConnector(ami, ring_timeout=15)
    waiting = SimpleNamespace(channel="PJSIP/carrier-2")
    await connector.announce(waiting, 3, None)
    await connector.announce(waiting, 2, 60)
    assert [ctx for name, ctx in ami.sent if name == "Redirect"] == ["ctigw-announce", "ctigw-announce"]
