"""Incremental AMI parser: feed bytes as they arrive, get complete AmiMessages back.

Wire format: the first line after connect is the banner (`Asterisk Call Manager/11.0.0`, no
blank line after it); then frames of `Key: Value` lines ended by `\\r\\n`, each frame ended by
an empty line. Bare `\\n` is tolerated anywhere: CR bytes are simply dropped (no AMI value
carries one), which is the cheapest normalisation and cannot depend on chunk boundaries. A
legacy `Response: Follows` command reply carries raw output (blank lines included) up to
`--END COMMAND--`.

This is the hot path, so the common case is a handful of C-level operations per chunk: drop
CRs, split the complete part of the buffer on blank lines, decode once, and for each `Event:`
frame take only the event name (fields are looked up on demand, see message.py). Anything
unusual (a Follows reply, stray blank lines, a frame that does not start with `Event:` or
`Response:`, an oversize candidate) goes through a slower per-frame path.

Memory is bounded: a line over `max_line` or a frame over `max_frame` raises AmiLineTooLong /
AmiFrameTooLarge (the connection must be dropped) as soon as the buffered part crosses the
cap, so a peer sending a 100 MB line costs at most one cap plus one chunk. The result never
depends on how the stream was chunked.
"""
from __future__ import annotations

import logging

from gateway.ami.errors import AmiFrameTooLarge, AmiLineTooLong, AmiOversizeError
from gateway.ami.message import AmiMessage, parse_lines

log = logging.getLogger(__name__)

DEFAULT_MAX_LINE = 64 * 1024
DEFAULT_MAX_FRAME = 1024 * 1024

ENCODING = "utf-8"
ON_BAD_BYTES = "replace"  # caller names in latin-1 must not break the stream

FOLLOWS_START = b"Response: Follows"
FOLLOWS_END = b"--END COMMAND--"
# Header lines of a Follows reply; everything after them is command output.
FOLLOWS_HEADER_KEYS = frozenset({"Response", "Privilege", "ActionID", "Message"})


class AmiFrameParser:
    """Bytes in, AmiMessages out. One parser per connection; dead after an oversize error."""

    def __init__(self, *, max_line: int = DEFAULT_MAX_LINE, max_frame: int = DEFAULT_MAX_FRAME,
                 expect_banner: bool = True):
        if not 0 < max_line <= max_frame:
            raise ValueError("need 0 < max_line <= max_frame")
        self.max_line = max_line
        self.max_frame = max_frame
        self.banner: str | None = None
        self._awaiting_banner = expect_banner
        self._tail = b""          # unconsumed bytes, CRs already dropped
        self._in_follows = False  # the tail starts with a Follows reply still being received
        self._dead: AmiOversizeError | None = None
        self.malformed_lines = 0  # lines dropped from frames the parser had to parse in full
        self.skipped_frames = 0   # frames without a single valid field

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete message (for truncation reports)."""
        return len(self._tail)

    def feed(self, data: bytes) -> list[AmiMessage]:
        if self._dead is not None:
            raise type(self._dead)(self._dead.limit)
        data = data.replace(b"\r", b"")
        buf = self._tail + data if self._tail else data
        out: list[AmiMessage] = []
        try:
            self._tail = self._consume(buf, len(data), out)
        except AmiOversizeError as err:
            self._dead = err
            self._tail = b""
            err.messages = out
            raise
        return out

    # -- stages -------------------------------------------------------------------------------

    def _consume(self, buf: bytes, fresh: int, out: list) -> bytes:
        """Parse what is complete in `buf` into `out`; return the incomplete rest."""
        if self._awaiting_banner:
            end = buf.find(b"\n")
            if end < 0:
                self._check_line(buf)
                return buf
            self._check_line(buf[:end])
            self.banner = buf[:end].decode(ENCODING, ON_BAD_BYTES).strip()
            self._awaiting_banner = False
            buf = buf[end + 1:]
        while True:
            if self._in_follows:
                rest = self._take_follows(buf, out)
                if rest is None:
                    self._check_frame(buf.strip(b"\n"))
                    return buf
                buf = rest
                self._in_follows = False
            cut = buf.rfind(b"\n\n")
            if cut < 0:
                self._check_tail(buf)
                return buf
            head, tail = buf[:cut], buf[cut + 2:]
            if FOLLOWS_START in head or (len(head) > self.max_line and self._may_hold_oversize(head, fresh)):
                rest = self._consume_careful(head, tail, out)
                if rest is not None:  # a Follows reply starts here
                    buf = rest
                    continue
            else:
                self._consume_fast(head, out)
            self._check_tail(tail)
            return tail

    def _consume_fast(self, head: bytes, out: list) -> None:
        append = out.append
        for frame in head.decode(ENCODING, ON_BAD_BYTES).split("\n\n"):
            if frame.startswith("Event: "):
                end = frame.find("\n", 7)
                append(AmiMessage(frame, frame[7:end] if end > 0 else frame[7:]))
            else:
                message = self._message_slow(frame)
                if message is not None:
                    append(message)

    def _consume_careful(self, head: bytes, tail: bytes, out: list) -> bytes | None:
        """Frame by frame, checking caps and watching for a Follows reply.

        Returns the buffer from the Follows reply on (to be received in full first), else None.
        """
        parts = head.split(b"\n\n")
        for index, part in enumerate(parts):
            frame = part.strip(b"\n")
            if not frame:
                continue
            if frame.startswith(FOLLOWS_START):
                self._in_follows = True
                return b"\n\n".join(parts[index:]) + b"\n\n" + tail
            self._check_frame(frame)
            message = self._message_slow(frame.decode(ENCODING, ON_BAD_BYTES))
            if message is not None:
                out.append(message)
        return None

    def _take_follows(self, buf: bytes, out: list) -> bytes | None:
        marker = buf.find(FOLLOWS_END)
        if marker < 0:
            return None
        end = buf.find(b"\n\n", marker)
        if end < 0:
            return None
        frame = buf[:end].strip(b"\n")
        self._check_frame(frame)
        out.append(self._follows_message(frame.decode(ENCODING, ON_BAD_BYTES)))
        return buf[end + 2:]

    # -- building messages off the fast path --------------------------------------------------

    def _message_slow(self, frame: str) -> AmiMessage | None:
        frame = frame.strip("\n")
        if not frame:
            return None  # stray blank lines between frames
        if frame.startswith("Event: "):
            end = frame.find("\n", 7)
            return AmiMessage(frame, frame[7:end] if end > 0 else frame[7:])
        if frame.startswith("Response: "):
            return AmiMessage._from_frame(frame)
        # Unusual first line: parse it all now, keep only the valid lines.
        pairs, malformed = parse_lines(frame)
        if malformed:
            self._report_malformed(malformed, frame)
        if not pairs:
            self.skipped_frames += 1
            return None
        return AmiMessage.from_pairs(pairs)

    def _follows_message(self, frame: str) -> AmiMessage:
        lines = frame.split("\n")
        headers = []
        index = 0
        for index, line in enumerate(lines):
            key, colon, value = line.partition(":")
            if not colon or key not in FOLLOWS_HEADER_KEYS:
                break
            headers.append((key, value[1:] if value[:1] == " " else value))
        else:
            index = len(lines)
        body = "\n".join(lines[index:])
        body = body[:body.find(FOLLOWS_END.decode())].rstrip("\n")
        return AmiMessage.from_pairs(headers, body=body)

    def _report_malformed(self, count: int, frame: str) -> None:
        before = self.malformed_lines
        self.malformed_lines += count
        # Log each time the total crosses a power of two: seen at once, bounded under a flood.
        if before.bit_length() != self.malformed_lines.bit_length():
            log.warning("skipped malformed AMI lines (%d so far), e.g. in frame %r",
                        self.malformed_lines, frame[:120])

    # -- caps ---------------------------------------------------------------------------------

    def _may_hold_oversize(self, head: bytes, fresh: int) -> bool:
        # Only the first frame can have started in the old tail; every later frame lies inside
        # the fresh chunk, so it cannot exceed the cap unless the chunk itself does.
        if fresh > self.max_line:
            return max(map(len, head.split(b"\n\n"))) > self.max_line
        first = head.find(b"\n\n")
        return (first if first >= 0 else len(head)) > self.max_line

    def _check_line(self, line: bytes) -> None:
        if len(line) > self.max_line:
            raise AmiLineTooLong(self.max_line)

    def _check_tail(self, tail: bytes) -> None:
        if len(tail) > self.max_line:
            self._check_frame(tail.strip(b"\n"))

    def _check_frame(self, frame: bytes) -> None:
        """`frame` without its surrounding newlines: the cap counts content only."""
        if len(frame) > self.max_frame:
            raise AmiFrameTooLarge(self.max_frame)
        if len(frame) > self.max_line and max(map(len, frame.split(b"\n"))) > self.max_line:
            raise AmiLineTooLong(self.max_line)
