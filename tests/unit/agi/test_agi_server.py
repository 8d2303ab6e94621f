"""The FastAGI server fed byte streams through StringTransport, time on a task.Clock."""
import asyncio
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agi_fake_asterisk import ENV, HalfClosingTransport, Rig, settle, stream
from gateway.agi.errors import AgiCommandError, AgiHangup, AgiProtocolError, AgiTimeout
from gateway.agi.server import FastAgiServer


class Script:
    """A handler that runs `steps(session)` and keeps what happened."""

    def __init__(self, steps):
        self.steps = steps
        self.session = None
        self.results = []
        self.error = None

    async def __call__(self, session):
        self.session = session
        try:
            await self.steps(session, self.results)
        except Exception as exc:
            self.error = exc
            raise


# -- a whole session ---------------------------------------------------------------------

async def test_a_session_from_environment_to_close():
    async def steps(session, results):
        await session.answer()
        results.append(await session.get_variable("CUSTOMER"))
        results.append(await session.stream_file("welcome", escape_digits="12"))
        results.append(await session.wait_for_digit(5000))

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    assert handler.session.env.channel == "PJSIP/carrier-00000001"
    assert handler.session.request.query == {"flow": "main", "dnis": "100"}
    assert str(handler.session.peer) == "127.0.0.1:40000"
    for reply, command in [("200 result=0\n", "ANSWER"),
                           ("200 result=1 (gold (VIP))\n", 'GET VARIABLE "CUSTOMER"'),
                           ("200 result=49 endpos=4160\n", 'STREAM FILE "welcome" "12"'),
                           ("200 result=52\n", 'WAIT FOR DIGIT "5000"')]:
        assert asterisk.take() == [command]
        asterisk.send(reply)
        await settle()
    assert handler.results == ["gold (VIP)", "1", "4"]
    assert asterisk.closed and asterisk.take() == []
    assert rig.reasons == ["completed"]
    assert rig.server.active_sessions == 1  # until the socket is really gone
    asterisk.hang_up_socket()
    assert rig.server.active_sessions == 0
    assert rig.clock.getDelayedCalls() == []


async def test_replies_split_across_reads_and_crlf_endings():
    async def steps(session, results):
        results.append(await session.get_variable("A"))
        results.append(await session.get_variable("B"))

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = rig.connect()
    for i in range(0, len(ENV), 7):  # the environment in small pieces
        asterisk.send(ENV[i:i + 7])
    await settle()
    asterisk.send(b"200 resu")
    asterisk.send(b"lt=1 (x)\r")
    asterisk.send(b"\n")
    await settle()
    asterisk.send(b"200 result=0\r\n")
    await settle()
    assert handler.results == ["x", None]


async def test_trying_then_the_real_reply():
    async def steps(session, results):
        results.append(await session.exec_app("Playback", "hello-world"))

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    assert asterisk.take() == ['EXEC "Playback" "hello-world"']
    asterisk.send(stream("replies", "trying"))
    await settle()
    assert handler.results[0].code == 200 and handler.results[0].result == "0"


async def test_commands_issued_together_go_one_at_a_time():
    async def steps(session, results):
        results.extend(await asyncio.gather(session.get_variable("A"), session.get_variable("B")))

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    assert asterisk.take() == ['GET VARIABLE "A"']
    asterisk.send("200 result=1 (a)\n")
    await settle()
    assert asterisk.take() == ['GET VARIABLE "B"']
    asterisk.send("200 result=1 (b)\n")
    await settle()
    assert handler.results == ["a", "b"]


async def test_a_cancelled_command_still_consumes_its_reply():
    async def steps(session, results):
        pending = session.command('GET VARIABLE "SLOW"')
        pending.cancel()
        results.append(await session.get_variable("NEXT"))

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    assert asterisk.take() == ['GET VARIABLE "SLOW"']
    asterisk.send("200 result=1 (slow)\n")
    await settle()
    assert asterisk.take() == ['GET VARIABLE "NEXT"']
    asterisk.send("200 result=1 (next)\n")
    await settle()
    assert handler.results == ["next"]


# -- hang-up -------------------------------------------------------------------------------

async def test_hangup_line_right_before_the_reply_to_the_command_in_flight():
    async def steps(session, results):
        try:
            await session.set_variable("STEP", "1")
        except AgiHangup:
            results.append("hangup at pending command")
        try:
            await session.get_variable("AFTER")
        except AgiHangup:
            results.append("hangup at next command")

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    assert asterisk.take() == ['SET VARIABLE "STEP" "1"']
    asterisk.send(stream("replies", "hangup_before_reply"))  # HANGUP, then 511 for the command
    await settle()
    assert handler.results == ["hangup at pending command", "hangup at next command"]
    assert asterisk.take() == []  # nothing is sent to a dead channel
    assert handler.session.hung_up
    assert rig.reasons == ["hangup"]
    assert asterisk.closed


async def test_hangup_notice_fails_the_pending_command_at_once():
    async def steps(session, results):
        await session.stream_file("long-prompt")

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    asterisk.send("HANGUP\n")  # the reply to STREAM FILE has not come yet
    await settle()
    assert isinstance(handler.error, AgiHangup)
    assert rig.reasons == ["hangup"]


async def test_hangup_between_commands_is_raised_at_the_next_one():
    async def steps(session, results):
        await session.answer()
        await asyncio.sleep(0)
        await session.verbose("still there?")

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    asterisk.take()
    asterisk.send("200 result=0\nHANGUP\n")
    await settle()
    assert isinstance(handler.error, AgiHangup)
    assert asterisk.take() == []
    assert rig.reasons == ["hangup"]


async def test_511_after_hang_up_without_a_hangup_line():
    """AGISIGHUP=no: no HANGUP line, the next channel command gets 511."""
    async def steps(session, results):
        await session.answer()

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    asterisk.send("511 Command Not Permitted on a dead channel or intercept routine\n")
    await settle()
    assert isinstance(handler.error, AgiHangup)
    assert handler.session.hung_up
    assert rig.reasons == ["hangup"]


async def test_minus_one_from_stream_file_is_a_hangup():
    async def steps(session, results):
        await session.stream_file("menu", "123")

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    asterisk.send(stream("replies", "hangup_after_stream"))
    await settle()
    assert isinstance(handler.error, AgiHangup)
    assert rig.reasons == ["hangup"]


async def test_socket_closed_mid_command():
    async def steps(session, results):
        await session.get_data("enter-account", 5000, 6)

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    assert asterisk.take() == ['GET DATA "enter-account" "5000" "6"']
    asterisk.hang_up_socket()
    await settle()
    assert isinstance(handler.error, AgiHangup)
    assert rig.reasons == ["hangup"]
    assert rig.server.active_sessions == 0
    assert rig.clock.getDelayedCalls() == []


# -- timeouts -------------------------------------------------------------------------------

async def test_command_timeout():
    async def steps(session, results):
        await session.answer()

    handler = Script(steps)
    rig = Rig({"inbound": handler}, command_timeout=30.0)
    asterisk = await rig.call()
    rig.clock.advance(29.9)
    await settle()
    assert handler.error is None
    rig.clock.advance(0.2)
    await settle()
    assert isinstance(handler.error, AgiTimeout)
    assert asterisk.closed
    assert rig.reasons == ["timeout"]
    asterisk.send("200 result=0\n")  # a late reply is ignored
    asterisk.hang_up_socket()
    assert rig.server.active_sessions == 0


async def test_each_command_gets_its_own_deadline():
    """One lazy timer serves all commands of a session; it must still time each one."""
    async def steps(session, results):
        await session.answer()
        await session.get_variable("A")  # sent at t=10, due at t=40

    handler = Script(steps)
    rig = Rig({"inbound": handler}, command_timeout=30.0)
    asterisk = await rig.call()
    rig.clock.advance(10)
    asterisk.send("200 result=0\n")
    await settle()
    rig.clock.advance(29.8)  # past the first command's deadline (t=30)
    await settle()
    assert handler.error is None and not asterisk.closed
    rig.clock.advance(0.4)
    await settle()
    assert isinstance(handler.error, AgiTimeout)


async def test_a_short_timeout_after_a_long_one():
    async def steps(session, results):
        await session.stream_file("terms-and-conditions", timeout=120)
        await session.answer()  # the default 30 s again

    handler = Script(steps)
    rig = Rig({"inbound": handler}, command_timeout=30.0)
    asterisk = await rig.call()
    rig.clock.advance(1)
    asterisk.send("200 result=0 endpos=96000\n")
    await settle()
    rig.clock.advance(30.1)
    await settle()
    assert isinstance(handler.error, AgiTimeout) and "ANSWER" in str(handler.error)


async def test_waiting_commands_get_their_wait_on_top_of_the_timeout():
    async def steps(session, results):
        results.append(await session.wait_for_digit(60_000))

    handler = Script(steps)
    rig = Rig({"inbound": handler}, command_timeout=30.0)
    asterisk = await rig.call()
    rig.clock.advance(89)
    await settle()
    asterisk.send("200 result=0\n")
    await settle()
    assert handler.results == [""] and handler.error is None


async def test_environment_timeout():
    rig = Rig({"inbound": Script(None)}, env_timeout=5.0)
    asterisk = rig.connect()
    asterisk.send(ENV[:40])
    rig.clock.advance(5.0)
    assert asterisk.closed
    asterisk.hang_up_socket()
    assert rig.server.active_sessions == 0 and rig.ended == []


async def test_connection_closed_before_the_environment_ends():
    """panoramisk 1.4 spins at 100% CPU here; the server must just clean up."""
    rig = Rig({"inbound": Script(None)})
    asterisk = rig.connect()
    asterisk.send(ENV[:100])
    asterisk.hang_up_socket()
    assert rig.server.active_sessions == 0
    assert rig.clock.getDelayedCalls() == []  # the environment timer is gone too
    asterisk.send(ENV[100:])  # bytes after the close are ignored
    await settle()
    assert rig.ended == []


# -- admission ------------------------------------------------------------------------------

def test_peers_outside_the_allow_list_are_refused_before_reading(caplog):
    rig = Rig({}, allowed_hosts=["127.0.0.1", "10.1.0.0/16", "::1"])
    with caplog.at_level(logging.WARNING):
        assert rig.connect(host="10.2.0.9") is None
    assert "10.2.0.9" in caplog.text and "allowed_hosts" in caplog.text
    assert rig.connect(host="10.1.200.3") is not None
    assert rig.server.buildProtocol(type("A", (), {"host": "::ffff:127.0.0.1", "port": 1})()) is not None
    assert rig.server.buildProtocol(type("A", (), {"host": "::1", "port": 1})()) is not None
    assert rig.server.buildProtocol(type("A", (), {"host": "/tmp/sock"})()) is None


async def test_session_cap_refuses_with_failure(caplog):
    async def steps(session, results):
        await session.answer()

    rig = Rig({"inbound": Script(steps)}, max_sessions=2)
    first, second = await rig.call(), await rig.call()
    with caplog.at_level(logging.WARNING):
        refused = rig.connect(transport_class=HalfClosingTransport)
    assert "max_sessions" in caplog.text
    assert refused.take() == ["FAILURE"]  # Asterisk: AGISTATUS=FAILURE, the dialplan falls back
    assert refused.transport.write_closed and not refused.closed
    refused.send(ENV)  # its environment is read and dropped
    rig.clock.advance(2.0)
    assert refused.closed
    assert rig.server.active_sessions == 2
    first.send("200 result=0\n")
    await settle()
    first.hang_up_socket()
    assert rig.server.active_sessions == 1
    assert rig.connect() is not None and rig.server.active_sessions == 2


async def test_unknown_path_is_logged_and_refused_with_failure(caplog):
    rig = Rig({"outbound": Script(None)})
    with caplog.at_level(logging.WARNING):
        asterisk = await rig.call()
    assert "no route for 'inbound'" in caplog.text
    assert asterisk.take() == ["FAILURE"] and asterisk.closed
    asterisk.hang_up_socket()
    assert rig.server.active_sessions == 0 and rig.ended == []


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.1\r\nHost: gateway\r\n\r\n",
    b"SSH-2.0-OpenSSH_9.6\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n",
    b"\n",  # an empty environment
])
async def test_garbage_on_the_port_is_logged_and_closed(garbage, caplog):
    rig = Rig({"inbound": Script(None)})
    asterisk = rig.connect()
    with caplog.at_level(logging.WARNING):
        asterisk.send(garbage)
    assert asterisk.closed and "closing the connection" in caplog.text
    asterisk.hang_up_socket()
    assert rig.server.active_sessions == 0 and rig.clock.getDelayedCalls() == []


async def test_oversized_environment_line_is_not_buffered():
    rig = Rig({"inbound": Script(None)})
    asterisk = rig.connect()
    asterisk.send(b"agi_network: yes\nagi_callerid: " + b"9" * 10_000)  # no newline in sight
    assert asterisk.closed
    asterisk.send(b"9" * 100_000)
    assert len(asterisk.protocol._buffer) <= 20_000  # input after the close is dropped


async def test_too_many_environment_lines():
    rig = Rig({"inbound": Script(None)})
    asterisk = rig.connect()
    asterisk.send(b"".join(b"agi_arg_%d: x\n" % i for i in range(1, 300)))
    assert asterisk.closed


async def test_oversized_reply_line_ends_the_session():
    async def steps(session, results):
        await session.get_variable("BIG")

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    asterisk.send(b"200 result=1 (" + b"x" * 9000 + b")\n")
    await settle()
    assert isinstance(handler.error, AgiProtocolError)
    assert asterisk.closed and rig.reasons == ["error"]


async def test_a_reply_nobody_asked_for_closes_the_connection(caplog):
    async def steps(session, results):
        await asyncio.sleep(3600)

    rig = Rig({"inbound": Script(steps)})
    asterisk = await rig.call()
    with caplog.at_level(logging.WARNING):
        asterisk.send("200 result=0\n")
    assert asterisk.closed and "no command in flight" in caplog.text
    await rig.server.stop(grace=0.01)


# -- errors ---------------------------------------------------------------------------------

async def test_invalid_command_and_usage_errors():
    async def steps(session, results):
        for raw in ("FLY AWAY", "STREAM FILE", "GET DATA"):
            try:
                await session.command(raw)
            except AgiCommandError as exc:
                results.append((exc.reply.code, exc.usage))

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    errors = stream("replies", "errors")
    for chunk in (errors[:31], errors[31:-57], errors[-57:]):
        asterisk.send(chunk)
        await settle()
    assert handler.results[0] == (510, None)
    assert handler.results[1][0] == 520 and handler.results[1][1].startswith(" Usage: STREAM FILE")
    assert handler.results[2] == (520, "Invalid command syntax.  Proper usage not available.")
    assert rig.reasons == ["completed"]


async def test_handler_exception_is_logged_with_the_channel(caplog):
    async def steps(session, results):
        await session.answer()
        raise RuntimeError("flow bug")

    rig = Rig({"inbound": Script(steps)})
    asterisk = await rig.call()
    asterisk.take()
    with caplog.at_level(logging.ERROR):
        asterisk.send("200 result=0\n")
        await settle()
    # the server's own record (asyncio may log an earlier test's unretrieved future meanwhile)
    record = next(r for r in caplog.records if r.exc_info and r.name == "gateway.agi.server")
    assert "PJSIP/carrier-00000001" in record.getMessage() and "flow bug" in str(record.exc_info[1])
    assert asterisk.take() == ["FAILURE"]  # the dialplan's fallback takes the caller
    assert asterisk.closed and rig.reasons == ["error"]


async def test_injected_line_breaks_never_reach_the_socket():
    async def steps(session, results):
        for attempt in (lambda: session.command("ANSWER\nHANGUP"),
                        lambda: session.set_variable("NOTE", "x\r\nEXEC Dial PJSIP/premium-line"),
                        lambda: session.stream_file("welcome", '1" "2')):
            try:
                await attempt()
            except ValueError:
                results.append("refused")

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    assert handler.results == ["refused"] * 3
    assert asterisk.take() == []


async def test_session_end_hook_may_be_async_and_may_fail(caplog):
    seen = []

    async def hook(session, reason):
        seen.append(reason)
        raise RuntimeError("hook bug")

    async def steps(session, results):
        pass

    rig = Rig({"inbound": Script(steps)}, on_session_end=hook)
    with caplog.at_level(logging.ERROR):
        await rig.call()
    assert seen == ["completed"] and "on_session_end hook failed" in caplog.text


async def test_stop_ends_live_sessions():
    async def steps(session, results):
        await session.stream_file("hold-music")

    handler = Script(steps)
    rig = Rig({"inbound": handler})
    asterisk = await rig.call()
    asterisk.take()
    await rig.server.stop()
    assert isinstance(handler.error, AgiHangup)
    assert asterisk.take() == ["FAILURE"] and asterisk.closed
    assert rig.reasons == ["hangup"]


async def test_stop_cancels_handlers_that_ignore_the_end():
    async def steps(session, results):
        await asyncio.sleep(3600)

    rig = Rig({"inbound": Script(steps)})
    await rig.call()
    await rig.server.stop(grace=0.01)
    assert rig.reasons == ["cancelled"]


def test_routes_ignore_slashes():
    async def handler(session):
        pass

    server = FastAgiServer({"/inbound/": handler})
    assert server._routes == {"inbound": handler}
    with pytest.raises(TypeError):
        server.route("x", "not callable")


# -- arbitrary bytes ------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=200), st.sampled_from([ENV, b"\n", b"HANGUP\n", b"agi_x: y\n"])),
                max_size=12))
def test_arbitrary_bytes_never_raise(chunks):
    rig = Rig({})  # no routes: no handler task is started outside the event loop
    asterisk = rig.connect()
    for chunk in chunks:
        asterisk.send(chunk)
    rig.clock.advance(10)
    asterisk.hang_up_socket()
    assert rig.server.active_sessions == 0
    assert rig.clock.getDelayedCalls() == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=200), st.sampled_from([
    b"200 result=1 (x)\n", b"HANGUP\n", b"100 result=0 Trying...\n", b"520-Invalid\n", b"520 End\n",
    b"511 Command Not Permitted\n"])), max_size=12))
def test_arbitrary_replies_never_raise(chunks):
    """The reply side, with commands in flight: no exception escapes into Twisted."""
    from twisted.internet import task
    from twisted.internet.testing import StringTransport

    from gateway.agi.protocol import FastAgiProtocol

    futures = []

    def send(protocol, *_):
        future = protocol.send_command("NOOP")
        future.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no GC warning
        futures.append(future)

    clock = task.Clock()
    protocol = FastAgiProtocol(clock=clock, env_timeout=5, command_timeout=30, on_environment=send,
                               on_disconnect=lambda p: None)
    protocol.makeConnection(StringTransport())
    protocol.dataReceived(ENV)
    for chunk in chunks:
        protocol.dataReceived(chunk)
        if protocol.phase == "commands" and not protocol.hung_up:
            send(protocol)
    clock.advance(60)
    protocol.connectionLost(None)
    assert all(f.done() for f in futures)
    assert clock.getDelayedCalls() == []
