"""Checks on digits a caller keyed in, and how sensitive digits are written down."""
from __future__ import annotations

import re

from gateway.ivr.model import CollectNode

# CRM checks a `collect` node may name, and the service call each makes.
CRM_CHECKS = ("account_belongs_to_caller",)

# Sensitive inputs keep this many trailing digits visible, enough for an agent to confirm
# "the account ending 78" and useless to anyone else.
VISIBLE_TAIL = 2


def luhn_ok(digits: str) -> bool:
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask(value: str, mask_char: str = "*", visible: int = VISIBLE_TAIL) -> str:
    """'12345678' -> '******78'. Short values are masked whole, so nothing leaks."""
    if len(value) <= visible * 2:
        return mask_char * len(value)
    return mask_char * (len(value) - visible) + value[-visible:]


def local_problem(node: CollectNode, digits: str) -> str | None:
    """Why the input cannot be accepted without asking the CRM, or None."""
    if not digits.isdigit():
        return "not digits only"
    if not node.min_length <= len(digits) <= node.max_length:
        return f"length {len(digits)} not in {node.min_length}..{node.max_length}"
    if node.pattern and not re.fullmatch(node.pattern, digits):
        return "does not match the pattern"
    if node.luhn and not luhn_ok(digits):
        return "fails the Luhn check"
    return None


async def crm_problem(check: str, digits: str, caller, services) -> str | None:
    if check == "account_belongs_to_caller":
        customer_id = caller.customer_id
        if customer_id is None:
            return "caller not identified"
        if not await services.verify_account(customer_id, digits):
            return "account does not belong to the caller"
        return None
    raise ValueError(f"unknown CRM check {check!r}")  # the loader rejects these
