"""The web server's connections send at once: Nagle's algorithm is off on every accepted
connection (TCP_NODELAY). With it on, a desk message sent right after another (the agent's
state, then the screen pop) sat in the kernel until the browser's delayed ACK, ~40 ms later."""
import asyncio
import socket

from fastapi import FastAPI

from gateway.web.server import WebServer


async def test_accepted_connections_have_nagle_off():
    server = WebServer(FastAPI(), grace=1)
    port = await server.start(0, "127.0.0.1")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readuntil(b"\r\n\r\n")  # the server has the connection
        connections = server._server.server_state.connections  # uvicorn's: one protocol per connection
        sockets = [c.transport.get_extra_info("socket") for c in connections]
        assert sockets and all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)
        writer.close()
    finally:
        await server.stop()
