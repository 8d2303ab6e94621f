"""Keeps credentials out of anything that renders an AMI frame for humans (logs, repr)."""
from __future__ import annotations

from typing import Iterable

# Login sends `Secret` (plain) or `Key` (the MD5 digest, as good as the secret for replay).
SENSITIVE_KEYS = frozenset({"secret", "key"})
MASK = "********"


def redact_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, MASK if k.lower() in SENSITIVE_KEYS else v) for k, v in pairs]


def format_pairs(pairs: Iterable[tuple[str, str]], limit: int = 400) -> str:
    """One log-friendly line: `Action=Login Username=ctigw Secret=********`."""
    text = " ".join(f"{k}={v!r}" for k, v in redact_pairs(pairs))
    return text if len(text) <= limit else text[:limit] + "..."
