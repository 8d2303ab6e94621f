"""Direct sends on an idle socket; anything else goes through Twisted's write queue, in order."""
from twisted.internet.abstract import FileDescriptor
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from gateway.agi.eager_write import write_now


class KernelSocket:
    """Takes up to `room` bytes per send, or raises `error`."""

    def __init__(self, room=1 << 20, error=None):
        self.room, self.error, self.sent = room, error, b""

    def send(self, data):
        if self.error:
            raise self.error
        taken = bytes(data[:self.room])
        self.sent += taken
        return len(taken)


class TcpLike(FileDescriptor):
    def __init__(self, sock):
        super().__init__(reactor=Clock())
        self.connected = 1
        self.socket = sock
        self.watching = False

    def startWriting(self):  # Twisted would ask the reactor to watch for writability
        self.watching = True

    def queued(self) -> bytes:
        return self.dataBuffer[self.offset:] + b"".join(self._tempDataBuffer)


def test_idle_socket_sends_at_once():
    transport = TcpLike(KernelSocket())
    write_now(transport, b"ANSWER\n")
    assert transport.socket.sent == b"ANSWER\n" and transport.queued() == b"" and not transport.watching


def test_what_the_kernel_leaves_is_queued():
    transport = TcpLike(KernelSocket(room=3))
    write_now(transport, b"ANSWER\n")
    assert transport.socket.sent == b"ANS" and transport.queued() == b"WER\n" and transport.watching


def test_queued_data_keeps_its_place():
    transport = TcpLike(KernelSocket())
    transport.write(b"FIRST\n")
    write_now(transport, b"SECOND\n")
    assert transport.socket.sent == b"" and transport.queued() == b"FIRST\nSECOND\n"


def test_send_errors_are_left_to_twisted():
    for error in (BlockingIOError(), ConnectionResetError()):
        transport = TcpLike(KernelSocket(error=error))
        write_now(transport, b"ANSWER\n")
        assert transport.queued() == b"ANSWER\n"


def test_closing_transports_and_other_transports_use_write():
    transport = TcpLike(KernelSocket())
    transport.disconnecting = True
    write_now(transport, b"ANSWER\n")
    assert transport.socket.sent == b""
    plain = StringTransport()
    write_now(plain, b"ANSWER\n")
    assert plain.value() == b"ANSWER\n"
