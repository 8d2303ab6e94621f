"""The gateway tells systemd it is ready (deploy/ctigw.service is Type=notify), over a real
datagram socket as systemd's own."""
import socket

from gateway.sd_notify import notify


def _listener(address: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(5)
    return sock


def test_ready_reaches_the_socket_systemd_named(tmp_path, monkeypatch):
    path = str(tmp_path / "notify")
    with _listener(path) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        assert notify("READY=1", "STATUS=gateway gw1 ready") is True
        assert sock.recv(4096) == b"READY=1\nSTATUS=gateway gw1 ready"


def test_abstract_socket_address(tmp_path, monkeypatch):
    name = f"ctigw-test-{tmp_path.name}"
    with _listener("\0" + name) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert notify("STOPPING=1") is True
        assert sock.recv(4096) == b"STOPPING=1"


def test_outside_systemd_nothing_is_sent(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify("READY=1") is False
