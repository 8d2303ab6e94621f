"""The suite's loop drives Twisted and asyncio together (listen, connect, callLater)."""
import asyncio

from twisted.internet import protocol, reactor

from gateway.loop import as_future


class _Echo(protocol.Protocol):
    def dataReceived(self, data):
        self.transport.write(data)


async def test_twisted_and_asyncio_share_the_loop():
    port = reactor.listenTCP(0, protocol.Factory.forProtocol(_Echo), interface="127.0.0.1")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port.getHost().port)
        writer.write(b"ping")
        assert await asyncio.wait_for(reader.readexactly(4), 5) == b"ping"
        fired = asyncio.get_running_loop().create_future()
        reactor.callLater(0.01, fired.set_result, "late")
        assert await asyncio.wait_for(fired, 5) == "late"
        writer.close()
    finally:
        await as_future(port.stopListening())
