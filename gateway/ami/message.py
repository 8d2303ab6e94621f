"""AmiMessage: one AMI frame (an event or a response), read-only and order-preserving.

Why it keeps the frame text instead of a dict: Asterisk sends thousands of events a second,
most of which no subscriber reads (VarSet, Newexten, ...), and a subscriber that does reads
two or three fields. Splitting ~20 lines into a dict per frame cost more than everything else
in the receive path together, so the parser only notes the event name and a field lookup is a
search for `"\\n<Key>:"` in the text (one C call). Iterating, `len()`, `pairs()` parse the text
in full, once.

Field semantics (the same on every path): a line is `Key:Value`; the key is everything before
the first colon (case preserved, matched exactly); one space after the colon is dropped.
Lines without a colon or with an empty key are malformed: never returned, counted in
`malformed_lines`. A repeated key (e.g. ChanVariable) answers `msg[key]` with its first value;
`getall(key)` returns all of them in order.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

from gateway.ami.redact import format_pairs

# One compiled search per key, cached: `\nKey:`, one optional space, the rest of the line. A
# regex search with a literal prefix runs at str.find speed and returns the value in the same
# C call, which made lookups ~40% cheaper than find + slicing in Python. Keys come from code,
# so the cache stays small (bounded anyway).
# "Event" is answered from the `event` attribute: the parser's fast path keeps an event's text
# starting at "Event: " (no newline before the first line, so no copy), and `event` always
# holds the first Event value, whatever built the message.
_EVENT = object()
_SEARCHES: dict[str, object] = {"Event": _EVENT}
_SEARCH_CACHE_MAX = 4096


def _search_for(key):
    if not isinstance(key, str) or not key or ":" in key or "\n" in key:
        return None  # no line can carry such a key
    search = re.compile(re.escape("\n" + key + ":") + " ?([^\n]*)").search
    if len(_SEARCHES) < _SEARCH_CACHE_MAX:
        _SEARCHES[key] = search
    return search


_first_event_line = re.compile(r"\nEvent: ?([^\n]*)").search


def parse_lines(text: str) -> tuple[list[tuple[str, str]], int]:
    """All `Key: Value` lines of `text` in order, and how many lines were malformed."""
    pairs = []
    malformed = 0
    for line in text.split("\n"):
        if not line:
            continue
        colon = line.find(":")
        if colon <= 0:
            malformed += 1
            continue
        value = line[colon + 1:]
        if value[:1] == " ":
            value = value[1:]
        pairs.append((line[:colon], value))
    return pairs, malformed


class AmiMessage(Mapping):
    """One AMI message. `msg["Event"]`, `msg.get("Linkedid")`, `msg.getall("ChanVariable")`.

    `event` is the event name (None for a response); `body` holds the raw output of a legacy
    `Response: Follows` command reply ("" otherwise).
    """

    __slots__ = ("_text", "event", "body", "_parsed")

    def __init__(self, text: str, event: str | None = None, body: str = ""):
        # Parser-internal: `text` holds the frame's lines, each but an "Event: " first line
        # preceded by "\n"; `event` must be its first Event value. Use `from_pairs` instead.
        self._text = text
        self.event = event
        self.body = body
        self._parsed = None

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]] | Mapping[str, str], body: str = "") -> "AmiMessage":
        """Build a message from fields (a mapping or (key, value) pairs, repeats allowed)."""
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        parts = []
        event = None
        for key, value in items:
            key, value = str(key), str(value)
            if not key or ":" in key or "\n" in key or "\r" in key:
                raise ValueError(f"invalid AMI field name {key!r}")
            if "\n" in value or "\r" in value:
                raise ValueError(f"AMI field {key!r} has a line break in its value")
            if event is None and key == "Event":
                event = value
            parts.append(f"\n{key}: {value}")
        return cls("".join(parts), event, body)

    # -- lookups: one search in the text, no parsing; called thousands of times a second,
    #    so each is kept flat on purpose ------------------------------------------------------

    def __getitem__(self, key: str) -> str:
        search = _SEARCHES.get(key) or _search_for(key)
        if search is _EVENT:
            if self.event is None:
                raise KeyError(key)
            return self.event
        found = search(self._text) if search is not None else None
        if found is None:
            raise KeyError(key)
        return found[1]

    def get(self, key: str, default=None):
        search = _SEARCHES.get(key) or _search_for(key)
        if search is _EVENT:
            return default if self.event is None else self.event
        found = search(self._text) if search is not None else None
        return default if found is None else found[1]

    def __contains__(self, key) -> bool:
        search = _SEARCHES.get(key) or _search_for(key)
        if search is _EVENT:
            return self.event is not None
        return search is not None and search(self._text) is not None

    def getall(self, key: str) -> list[str]:
        """Every value of a repeated key, in order ([] when absent)."""
        return [v for k, v in self.pairs() if k == key] if key in self else []

    @classmethod
    def _from_frame(cls, frame: str) -> "AmiMessage":
        """A frame whose first line is not `Event: ` (a response): find its event, if any."""
        text = "\n" + frame
        found = _first_event_line(text)
        return cls(text, found[1] if found else None)

    # -- whole-message views: parse once ------------------------------------------------------

    def _parse(self) -> tuple[tuple[tuple[str, str], ...], int]:
        if self._parsed is None:
            pairs, malformed = parse_lines(self._text)
            self._parsed = (tuple(pairs), malformed)
        return self._parsed

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """All fields in wire order, repeats included."""
        return self._parse()[0]

    @property
    def malformed_lines(self) -> int:
        return self._parse()[1]

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(k for k, _ in self.pairs()))

    def __len__(self) -> int:
        return len(dict.fromkeys(k for k, _ in self.pairs()))

    def as_dict(self) -> dict[str, str]:
        """Plain dict, first value of each key."""
        result: dict[str, str] = {}
        for key, value in self.pairs():
            result.setdefault(key, value)
        return result

    # -- conveniences -------------------------------------------------------------------------

    @property
    def response(self) -> str | None:
        """`Success`, `Error`, `Follows`, `Goodbye` for a response; None for an event."""
        return None if self.event is not None else self.get("Response")

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def __eq__(self, other) -> bool:
        if not isinstance(other, AmiMessage):
            return NotImplemented
        return self.pairs() == other.pairs() and self.body == other.body

    __hash__ = None  # mutable cache inside; compare, don't hash

    def __repr__(self) -> str:
        body = f" body={len(self.body)} chars" if self.body else ""
        return f"<AmiMessage {format_pairs(self.pairs())}{body}>"
