"""Tells systemd how the gateway is doing (`Type=notify` units, deploy/ctigw.service).

The sd_notify protocol is one datagram of `KEY=VALUE` lines to the socket named in
$NOTIFY_SOCKET; outside systemd the variable is unset and this does nothing.
"""
from __future__ import annotations

import os
import socket


def notify(*lines: str) -> bool:
    """Send e.g. notify("READY=1", "STATUS=..."); False when not run by systemd."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):  # Linux abstract socket namespace
        address = "\0" + address[1:]
    elif not address.startswith("/"):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.connect(address)
        sock.sendall("\n".join(lines).encode())
    return True
