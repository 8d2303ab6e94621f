"""The server on a real loopback port, with an asyncio client playing Asterisk."""
import asyncio

from agi_fake_asterisk import ENV
from gateway.agi.server import FastAgiServer
from waiting import wait_until

ANSWERS = {
    "ANSWER": "200 result=0",
    'GET VARIABLE "LANG"': "200 result=1 (tr)",
    'STREAM FILE "welcome" "12"': "200 result=50 endpos=2400",
    'GET FULL VARIABLE "${CHANNEL(linkedid)}"': "200 result=1 (1763893855.1)",
}


async def play_asterisk(port: int, env: bytes = ENV, answers=ANSWERS) -> list[str]:
    """Send the environment, answer every command, return the lines the gateway sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(env)
    received = []
    try:
        while True:
            line = await asyncio.wait_for(reader.readline(), 10)
            if not line:
                return received
            command = line.decode().rstrip("\n")
            received.append(command)
            if command in answers:
                writer.write((answers[command] + "\n").encode())
    finally:
        writer.close()


async def test_calls_over_a_real_socket_survive_scans_and_garbage():
    results, ended = [], []

    async def inbound(session):
        await session.answer()
        lang = await session.get_variable("LANG")
        digit = await session.stream_file("welcome", "12")
        linkedid = await session.get_full_variable("${CHANNEL(linkedid)}")
        results.append((session.env.callerid, session.request.query["dnis"], lang, digit, linkedid))

    server = FastAgiServer({"inbound": inbound}, on_session_end=lambda s, reason: ended.append(reason))
    port = server.listen(0).getHost().port
    try:
        # A health check that closes halfway through the environment (panoramisk 1.4 spins
        # here and serves nothing more), then a scanner speaking another protocol.
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(ENV[:60])
        await writer.drain()
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed on us
        writer.close()

        sent = await asyncio.gather(*(play_asterisk(port) for _ in range(20)))
        assert all(lines == list(ANSWERS) for lines in sent)
        assert results == [("905321234567", "100", "tr", "2", "1763893855.1")] * 20
        assert await wait_until(lambda: server.active_sessions == 0)
        assert ended == ["completed"] * 20
    finally:
        await server.stop()


async def test_over_the_cap_asterisk_reads_failure():
    release = asyncio.Event()

    async def slow(session):
        await session.answer()
        await release.wait()

    server = FastAgiServer({"inbound": slow}, max_sessions=1)
    port = server.listen(0).getHost().port
    try:
        first = asyncio.ensure_future(play_asterisk(port))
        assert await wait_until(lambda: server.active_sessions == 1)
        assert await play_asterisk(port) == ["FAILURE"]  # then the connection ends
        release.set()
        assert await first == ["ANSWER"]
        assert await wait_until(lambda: server.active_sessions == 0)
    finally:
        await server.stop()
