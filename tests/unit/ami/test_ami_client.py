"""AmiClient on a MemoryReactorClock: connect, login, actions, reconnect, resync, secrets."""
import asyncio
import logging

import pytest
from ami_testkit import BANNER, connect, frame, md5_key, settle
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.testing import MemoryReactorClock
from twisted.python.failure import Failure

from gateway.ami import AmiActionError, AmiClient, AmiNotConnected, AmiTimeout

SECRET = "n0t-in-logs-7f3a"


def make_client(**kw):
    reactor = MemoryReactorClock()
    kw.setdefault("random", lambda: 0.5)  # jitter takes 12.5 % off every delay
    client = AmiClient("127.0.0.1", 5038, "ctigw", SECRET, reactor=reactor, **kw)
    return client, reactor


async def started(**kw):
    client, reactor = make_client(**kw)
    client.start()
    asterisk = connect(reactor)
    asterisk.login(SECRET, auth=kw.get("auth", "md5"))
    await client.wait_connected(1)
    return client, reactor, asterisk


async def answer_later(asterisk, action_name, **fields):
    await settle()
    asterisk.reply(action_name, **fields)


# -- connecting ---------------------------------------------------------------------------

async def test_start_connects_logs_in_and_reports_connected():
    client, reactor = make_client()
    assert not client.connected
    client.start()
    host, port, _factory, timeout, _ = reactor.tcpClients[0]
    assert (host, port, timeout) == ("127.0.0.1", 5038, 10.0)
    asterisk = connect(reactor)
    asterisk.login(SECRET)
    await client.wait_connected(1)
    assert client.connected and "connected" in repr(client) and SECRET not in repr(client)


async def test_wait_connected_times_out_on_the_clock():
    client, reactor = make_client()
    client.start()
    waiting = asyncio.ensure_future(client.wait_connected(5))
    await settle()
    reactor.advance(5)
    with pytest.raises(AmiTimeout):
        await waiting


async def test_actions_through_the_client():
    client, _reactor, asterisk = await started()
    call = asyncio.ensure_future(client.action("Redirect", Channel="PJSIP/trunk-1", Context="ctigw-connect",
                                               Exten="1001", Priority=1))
    await settle()
    sent = asterisk.last_action("Redirect")
    assert (sent["Channel"], sent["Exten"], sent["Priority"]) == ("PJSIP/trunk-1", "1001", "1")
    asterisk.reply(sent, Response="Success", Message="Redirect successful")
    assert (await call)["Message"] == "Redirect successful"

    failing = asyncio.ensure_future(client.action("Hangup", Channel="PJSIP/gone"))
    await answer_later(asterisk, "Hangup", Response="Error", Message="No such channel")
    with pytest.raises(AmiActionError, match="No such channel"):
        await failing

    listing = asyncio.ensure_future(client.action_list("CoreShowChannels"))
    await settle()
    action_id = asterisk.last_action("CoreShowChannels")["ActionID"]
    asterisk.feed(frame(Response="Success", ActionID=action_id, EventList="start")
                  + frame(Event="CoreShowChannel", ActionID=action_id, Channel="PJSIP/a-1", Uniqueid="1.1")
                  + frame(Event="CoreShowChannelsComplete", ActionID=action_id, EventList="Complete", ListItems="1"))
    response, channels = await listing
    assert response["EventList"] == "start" and [c["Channel"] for c in channels] == ["PJSIP/a-1"]


async def test_action_timeout_uses_the_client_clock():
    client, reactor, _asterisk = await started(action_timeout=4)
    call = asyncio.ensure_future(client.action("Getvar", Variable="X"))
    await settle()
    reactor.advance(4)
    with pytest.raises(AmiTimeout):
        await call
    custom = asyncio.ensure_future(client.action("Getvar", Variable="X", action_timeout=1))
    await settle()
    reactor.advance(1)
    with pytest.raises(AmiTimeout):
        await custom


async def test_not_connected_fails_fast_and_pending_actions_fail_on_drop():
    client, _reactor = make_client()
    with pytest.raises(AmiNotConnected):
        await client.action("Ping")
    client, _reactor, asterisk = await started()
    call = asyncio.ensure_future(client.action("Redirect", Channel="c"))
    await settle()
    asterisk.drop()
    with pytest.raises(AmiNotConnected):
        await call
    assert not client.connected
    with pytest.raises(AmiNotConnected):
        await client.action("Redirect", Channel="c")  # not queued for later


# -- reconnecting -------------------------------------------------------------------------

async def test_reconnect_backoff_grows_with_jitter_and_resets_after_login():
    client, reactor = make_client(reconnect_initial=0.5, reconnect_max=4)
    client.start()
    delays = []
    for _ in range(6):
        connector = object()
        _h, _p, factory, _t, _b = reactor.tcpClients[-1]
        factory.clientConnectionFailed(connector, Failure(ConnectionRefusedError("refused")))
        before = len(reactor.tcpClients)
        delay = reactor.getDelayedCalls()[0].getTime() - reactor.seconds()
        reactor.advance(delay - 0.001)
        assert len(reactor.tcpClients) == before
        reactor.advance(0.001)
        assert len(reactor.tcpClients) == before + 1
        delays.append(round(delay, 4))
    assert delays == [0.4375, 0.875, 1.75, 3.5, 3.5, 3.5]  # base * (1 - 0.25 * 0.5), capped at 4
    asterisk = connect(reactor)
    asterisk.login(SECRET)
    await client.wait_connected(1)
    asterisk.drop()
    assert round(reactor.getDelayedCalls()[0].getTime() - reactor.seconds(), 4) == 0.4375


async def test_jitter_stays_within_bounds():
    for draw in (0.0, 0.999999):
        client, reactor = make_client(reconnect_initial=1, reconnect_max=8, random=lambda d=draw: d)
        client.start()
        _h, _p, factory, _t, _b = reactor.tcpClients[-1]
        factory.clientConnectionFailed(None, Failure(ConnectionRefusedError()))
        delay = reactor.getDelayedCalls()[0].getTime() - reactor.seconds()
        assert 0.75 <= delay <= 1.0


async def test_refused_login_is_logged_with_its_reason_and_retried(caplog):
    caplog.set_level(logging.INFO, logger="gateway.ami")
    client, reactor = make_client(auth="plain")
    client.start()
    for attempt in range(3):
        asterisk = connect(reactor)
        asterisk.feed(BANNER)
        asterisk.reply("Login", Response="Error", Message="Authentication failed")
        assert not client.connected
        reactor.advance(reactor.getDelayedCalls()[0].getTime() - reactor.seconds())
    assert len(reactor.tcpClients) == 4
    refusals = [r for r in caplog.records if "login" in r.getMessage() and "Authentication failed" in r.getMessage()]
    assert len(refusals) == 3 and refusals[0].levelno == logging.ERROR


async def test_dead_link_is_dropped_by_keepalive_and_reconnected():
    client, reactor, asterisk = await started(keepalive_interval=20, action_timeout=5)
    reactor.advance(20)
    assert asterisk.last_action()["Action"] == "Ping"
    reactor.advance(5)  # no pong
    assert not client.connected and asterisk.protocol.closed
    reactor.advance(reactor.getDelayedCalls()[0].getTime() - reactor.seconds())
    second = connect(reactor)
    second.login(SECRET)
    await client.wait_connected(1)
    assert client.connected


async def test_resync_hook_runs_after_every_login():
    client, reactor = make_client()
    seen = []

    async def resync():
        _response, channels = await client.action_list("CoreShowChannels")
        seen.append(len(channels))

    client.on_connected(resync)
    client.start()
    for round_ in range(3):
        asterisk = connect(reactor)
        asterisk.login(SECRET)
        await settle()
        action_id = asterisk.last_action("CoreShowChannels")["ActionID"]
        items = b"".join(frame(Event="CoreShowChannel", ActionID=action_id, Uniqueid=f"{i}.1") for i in range(round_))
        asterisk.feed(frame(Response="Success", ActionID=action_id, EventList="start") + items
                      + frame(Event="CoreShowChannelsComplete", ActionID=action_id, EventList="Complete"))
        await settle()
        asterisk.drop()
        reactor.advance(reactor.getDelayedCalls()[0].getTime() - reactor.seconds())
    assert seen == [0, 1, 2]


async def test_a_failing_hook_is_logged_and_the_client_stays_up(caplog):
    client, reactor = make_client()

    async def broken():
        raise RuntimeError("resync bug")

    client.on_connected(broken)
    client.start()
    connect(reactor).login(SECRET)
    await settle()
    assert client.connected and "resync bug" in caplog.text


async def test_stop_logs_off_closes_and_stops_reconnecting():
    client, reactor, asterisk = await started()
    pending = asyncio.ensure_future(client.action("Ping"))
    await settle()
    await client.stop()
    assert asterisk.last_action("Logoff") and asterisk.protocol.closed
    with pytest.raises(AmiNotConnected):
        await pending
    reactor.advance(3600)
    assert len(reactor.tcpClients) == 1 and not client.connected
    with pytest.raises(AmiNotConnected):
        await client.wait_connected(1)


# -- events -------------------------------------------------------------------------------

async def test_subscribers_sync_async_and_failing():
    client, _reactor, asterisk = await started()
    got_sync, got_async, got_all = [], [], []

    async def slow_then_record(msg):
        await asyncio.sleep(0)
        got_async.append(msg["Uniqueid"])

    def broken(msg):
        raise ValueError("subscriber bug")

    async def broken_async(msg):
        raise ValueError("async subscriber bug")

    client.on("Hangup", broken)
    client.on("Hangup", broken_async)
    client.on("Hangup", lambda msg: got_sync.append(msg["Uniqueid"]))
    client.on("Hangup", slow_then_record)
    client.on("*", lambda msg: got_all.append(msg.event))
    for uid in ("1", "2", "3"):
        asterisk.event("Hangup", Uniqueid=uid, Linkedid=uid)
    asterisk.feed(b"garbage that is not AMI\r\n\r\n")
    asterisk.event("Newchannel", Uniqueid="4", Linkedid="4")
    await settle(20)
    assert got_sync == ["1", "2", "3"] and got_async == ["1", "2", "3"]
    assert got_all == ["Hangup", "Hangup", "Hangup", "Newchannel"] and client.connected


# -- secrets ------------------------------------------------------------------------------

@pytest.mark.parametrize("auth", ["md5", "plain"])
async def test_secret_never_reaches_the_logs(caplog, auth):
    caplog.set_level(logging.DEBUG)
    client, reactor = make_client(auth=auth)
    client.start()
    asterisk = connect(reactor)
    asterisk.feed(BANNER)
    if auth == "md5":
        asterisk.reply("Challenge", Response="Success", Challenge="555")
    asterisk.reply("Login", Response="Error", Message="Authentication failed")  # logged at ERROR
    reactor.advance(reactor.getDelayedCalls()[0].getTime() - reactor.seconds())
    connect(reactor).login(SECRET, auth=auth)
    await client.wait_connected(1)
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    assert "Action='Login'" in logged  # the login frames were logged...
    assert SECRET not in logged  # ...without the secret
    assert md5_key("555", SECRET) not in logged and md5_key("840310928", SECRET) not in logged
    if auth == "plain":
        assert SECRET.encode() in asterisk.transport.value()  # it was on the wire, just not in logs


async def test_events_setting_and_auth_validation():
    client, reactor = make_client(auth="plain", events="call,agent")
    client.start()
    asterisk = connect(reactor)
    asterisk.feed(BANNER)
    assert asterisk.last_action("Login")["Events"] == "call,agent"
    with pytest.raises(ValueError):
        AmiClient("127.0.0.1", 5038, "ctigw", SECRET, auth="sha1")
