"""FastAGI server: Asterisk connects, sends the call's environment, and a handler registered
for the request path drives the call one AGI command at a time.

    server = FastAgiServer({"inbound": handle_inbound}, allowed_hosts=["127.0.0.1"])
    server.listen(4573)

    async def handle_inbound(session):
        await session.answer()
        digit = await session.stream_file("welcome", escape_digits="12")
"""
from gateway.agi.environment import AgiEnvironment, AgiRequest
from gateway.agi.errors import AgiCommandError, AgiError, AgiHangup, AgiProtocolError, AgiTimeout
from gateway.agi.replies import AgiReply
from gateway.agi.server import FastAgiServer
from gateway.agi.session import AgiSession

__all__ = [
    "AgiCommandError", "AgiEnvironment", "AgiError", "AgiHangup", "AgiProtocolError", "AgiReply",
    "AgiRequest", "AgiSession", "AgiTimeout", "FastAgiServer",
]
