"""Helpers for the HTTP API tests: tokens under the test secret and a tiny HTTP/1.1 client
(raw sockets, so malformed requests can be sent too)."""
import asyncio
import json

from gateway.api.auth import issue_token
from web_testing import SECRET


def token(role: str, subject: str, **kwargs) -> str:
    return issue_token(SECRET, role, subject, **kwargs)


class Response:
    def __init__(self, status: int, headers: dict, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:200]!r}>"


async def http(port: int, method: str, path: str, *, bearer: str | None = None, body=None,
               raw_body: bytes | None = None, headers: dict | None = None, chunked: bool = False) -> Response:
    """One HTTP/1.1 request on its own connection (Connection: close)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = raw_body if raw_body is not None else (json.dumps(body).encode() if body is not None else b"")
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    if bearer is not None:
        lines.append(f"Authorization: Bearer {bearer}")
    if data or method == "POST":
        lines.append("Content-Type: application/json")
        lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(data)}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    if chunked:
        for i in range(0, len(data), 1000):
            piece = data[i:i + 1000]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
        writer.write(b"0\r\n\r\n")
    else:
        writer.write(data)
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if hdrs.get("transfer-encoding") == "chunked":
        out = b""
        while True:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        rest = out
    return Response(int(status_line.split()[1]), hdrs, rest)
