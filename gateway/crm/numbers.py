"""Caller numbers (ANI) as they arrive from the network, classified and normalised to E.164.

Whatever the trunk sends — `05321234567`, `905321234567`, `00905321234567`,
`+90 532 123 45 67`, `sip:+905321234567@carrier`, `anonymous`, `Restricted`, an empty string,
or 10 KB of junk — `classify_ani` returns an `Ani` and never raises. Only `kind == "number"`
carries an `e164`, and that string is `+` and digits by construction, so nothing the caller
controls reaches SQL except as a bound parameter of that shape.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import asdict, dataclass

import phonenumbers

KINDS = ("number", "withheld", "anonymous", "unknown", "empty", "invalid")

# E.164 allows 15 digits; with separators, a prefix and a sip: wrapper real caller IDs stay far
# below this. Anything longer is not a number and is not handed to the parser.
MAX_PARSE_LENGTH = 64
DISPLAY_LENGTH = 40

_WITHHELD = {
    "withheld", "private", "restricted", "p", "presentation restricted", "blocked", "hidden",
    "number withheld", "private number", "gizli", "gizli numara",
}
_ANONYMOUS = {"anonymous", "anon", "anonymous@anonymous.invalid", "anonymous.invalid"}
_EMPTY_FORMS = {'""', "''", "<>", '"" <>', "<\"\">"}
_UNKNOWN = {
    "unknown", "unavailable", "not available", "out of area", "o", "n/a", "none", "null",
    "bilinmiyor", "bilinmeyen",
}
# What may surround the digits of a real number: separators and one leading +.
_NUMBER_SHAPE = re.compile(r"\+?\(?[0-9][0-9 ().\-/]*")
_SEPARATORS = re.compile(r"[ ().\-/]")
_WHITESPACE_TO_SPACE = {ord(c): " " for c in "\t\n\r\v\f"}
_URI_USER = re.compile(r"^(?:sips?|tel):([^@;>]*)", re.IGNORECASE)


@dataclass(frozen=True)
class Ani:
    kind: str  # one of KINDS
    e164: str | None  # only for kind == "number"
    display: str  # printable, control characters removed, length-capped
    region: str | None = None  # ISO country of the number (TR, GB, ...)

    @property
    def is_number(self) -> bool:
        return self.kind == "number"

    def to_dict(self) -> dict:
        return asdict(self)


def safe_display(text: str, limit: int = DISPLAY_LENGTH) -> str:
    """Printable form of untrusted text: control/format characters dropped, capped with '…'."""
    text = text[: limit * 4].translate(_WHITESPACE_TO_SPACE)  # bound the work first
    cleaned = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    cleaned = " ".join(cleaned.split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def classify_ani(raw, region: str = "TR") -> Ani:
    """Classify and normalise a caller number; never raises (see module docstring)."""
    try:
        if raw is None:
            return Ani("empty", None, "")
        if isinstance(raw, (bytes, bytearray)):
            raw = bytes(raw[: MAX_PARSE_LENGTH * 4]).decode("utf-8", "replace")
        elif not isinstance(raw, str):
            raw = str(raw)
        text = raw.strip()
        if not text:
            return Ani("empty", None, "")
        if len(text) > MAX_PARSE_LENGTH:
            return Ani("invalid", None, safe_display(text))
        return _classify_short(text, (region or "ZZ").upper())
    except Exception:  # a parser bug must not take a call down
        return Ani("invalid", None, safe_display(str(raw)[:1000]) if raw is not None else "")


@functools.lru_cache(maxsize=8192)  # repeat callers, and the same trunk formats, recur
def _classify_short(text: str, region: str) -> Ani:
    display = safe_display(text)
    word = text.strip("<>\"' ").lower()
    uri = _URI_USER.match(word)
    if uri:
        user = uri.group(1)
        if user in _ANONYMOUS or user == "anonymous":
            return Ani("anonymous", None, display)
        text = user
        word = user
    if word in _ANONYMOUS:
        return Ani("anonymous", None, display)
    if word in _WITHHELD:
        return Ani("withheld", None, display)
    if word in _UNKNOWN:
        return Ani("unknown", None, display)
    if not word:  # only quotes or brackets: how SIP and Asterisk show "no caller ID"
        return Ani("empty", None, "") if text in _EMPTY_FORMS else Ani("invalid", None, display)
    if not _NUMBER_SHAPE.fullmatch(text):
        return Ani("invalid", None, display)  # letters, emoji, quotes, control characters ...
    digits = _SEPARATORS.sub("", text)
    number = _parse_valid(digits, region)
    if number is None:
        return Ani("invalid", None, display)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    pretty = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    return Ani("number", e164, pretty, phonenumbers.region_code_for_number(number))


def _parse_valid(digits: str, region: str) -> phonenumbers.PhoneNumber | None:
    """Try the forms a trunk may send, in order: as dialled in the region, 00-prefixed,
    international without '+' (e.g. 905321234567)."""
    candidates = [digits]
    if digits.startswith("00"):
        candidates.append("+" + digits[2:])
    elif not digits.startswith("+") and len(digits) >= 10:
        candidates.append("+" + digits)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return number
    return None


# The IVR speaks Turkish and English; callers from elsewhere get English.
_LANGUAGE_BY_REGION = {"TR": "tr", "CY": "tr"}


def language_for_region(region: str | None) -> str | None:
    """A first guess of an unknown caller's language from their number's country."""
    if region is None:
        return None
    return _LANGUAGE_BY_REGION.get(region, "en")
