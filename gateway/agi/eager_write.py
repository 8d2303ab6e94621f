"""Sending a short line at once, instead of on the loop's next turn.

Twisted's TCP transport queues every write until the socket is reported writable: one
epoll change to watch for it, a loop turn, the send, another epoll change to stop watching.
For a 30-byte AGI command on an idle socket that is most of the cost of a command, so when
nothing is queued the line is sent directly and only what the kernel did not take is queued.
"""
from __future__ import annotations

from twisted.internet.abstract import FileDescriptor


def write_now(transport, data: bytes) -> None:
    if _idle_socket(transport):
        try:
            sent = transport.socket.send(data)
        except OSError:  # EAGAIN, or an error Twisted will meet and report on its own write
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)


def _idle_socket(transport) -> bool:
    """A plain TCP transport with nothing queued, so a direct send keeps the byte order."""
    return (isinstance(transport, FileDescriptor)
            and getattr(transport, "socket", None) is not None
            and transport.connected and not transport.disconnecting
            and not getattr(transport, "TLS", False)
            and not getattr(transport, "_tempDataBuffer", True)
            and len(transport.dataBuffer) == transport.offset)
