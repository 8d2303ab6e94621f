"""Turning an action (name + fields) into wire bytes, refusing anything that could inject lines."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

FieldValue = str | int | float | bool | None | Iterable


def action_pairs(name: str, action_id: str, fields: Mapping[str, FieldValue] | None) -> list[tuple[str, str]]:
    """`Action` and `ActionID` first, then the fields: None skipped, a list repeats its key."""
    pairs = [("Action", name), ("ActionID", action_id)]
    for key, value in (fields or {}).items():
        if key.lower() in ("action", "actionid"):
            raise ValueError(f"{key} is set by the client, not by the caller")
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else (value,)
        for item in values:
            pairs.append((key, _text(item)))
    for key, value in pairs:
        _check(key, value)
    return pairs


def encode_pairs(pairs: Iterable[tuple[str, str]]) -> bytes:
    return ("".join(f"{k}: {v}\r\n" for k, v in pairs) + "\r\n").encode("utf-8")


def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check(key: str, value: str) -> None:
    # A CR/LF in a field would let a caller-controlled value (a caller ID, a variable) start
    # a new line or a new action on the manager connection.
    if not key or ":" in key or any(c in key for c in "\r\n "):
        raise ValueError(f"invalid AMI field name {key!r}")
    if "\r" in value or "\n" in value:
        raise ValueError(f"AMI field {key!r} contains a line break")
