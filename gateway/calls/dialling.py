"""What an agent may dial: a number typed on the desk, checked and normalised to E.164.

Typed input is untrusted (a pasted SIP URI, a dialplan string, 10 KB of junk): it is refused
with a reason the agent can act on, never passed on. What comes out is `+` and digits only,
so the dialplan extension built from it cannot carry anything else.
"""
from __future__ import annotations

import re

import phonenumbers
from phonenumbers import PhoneNumberType

MAX_INPUT = 64
_ALLOWED = re.compile(r"\+?[0-9 ()\-./]+")
_NOT_DIALLED = {
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
}


class NotDiallable(ValueError):
    """The text is not a number an agent may dial; the message says why."""


def dialable_number(text, default_region: str) -> str:
    """`text` as an E.164 number (national numbers in `default_region`), or NotDiallable."""
    if not isinstance(text, str) or not text.strip():
        raise NotDiallable("enter the number to call")
    text = text.strip()
    if len(text) > MAX_INPUT:
        raise NotDiallable(f"that is too long for a phone number (at most {MAX_INPUT} characters)")
    if not _ALLOWED.fullmatch(text):
        raise NotDiallable("a phone number has only digits, spaces, ( ) - . / and a leading +")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise NotDiallable(f"{text} is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise NotDiallable(f"{text} is not a valid number (national numbers are read as {default_region})")
    refused = _NOT_DIALLED.get(phonenumbers.number_type(number))
    if refused:
        raise NotDiallable(f"{text} is {refused}; those are not dialled from the desk")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
