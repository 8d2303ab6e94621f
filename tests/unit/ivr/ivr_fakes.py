"""Callers, CRM services and clocks for running flows against a ScriptedChannel."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from gateway.ivr.scripted_channel import ScriptedCase, ScriptedCaller


ROOT = Path(__file__).resolve().parents[3]
FLOWS_DIR = ROOT / "ivr_flows"
BROKEN_FLOWS = ROOT / "tests" / "data" / "flows"
ISTANBUL = ZoneInfo("Europe/Istanbul")

# Monday 23 November 2026, in Istanbul.
OPEN = dt.datetime(2026, 11, 23, 10, 0, tzinfo=ISTANBUL)
EVENING = dt.datetime(2026, 11, 23, 20, 0, tzinfo=ISTANBUL)


Case = ScriptedCase
Caller = ScriptedCaller


def known_caller(**overrides) -> Caller:
    facts = dict(known=True, customer_id=42, name="Çağrı Öztürk", language="tr", tier="silver",
                 account_number="12345678")
    return Caller(**{**facts, **overrides})


class Services:
    """The self-service calls, answering from memory and recording what was asked."""

    def __init__(self, accounts=None, case=None, waits=None, fail=None):
        self.accounts = accounts if accounts is not None else {42: "12345678"}
        self.case = case
        self.waits = waits or {}
        self.fail = fail or set()
        self.calls = []

    async def verify_account(self, customer_id, account_number):
        self.calls.append(("verify_account", customer_id))
        if "verify_account" in self.fail:
            raise ConnectionError(f"CRM down while looking up {account_number}")
        return self.accounts.get(customer_id) == account_number

    async def case_status(self, customer_id):
        self.calls.append(("case_status", customer_id))
        if "case_status" in self.fail:
            raise ConnectionError("CRM down")
        return self.case

    async def estimated_wait(self, queue):
        self.calls.append(("estimated_wait", queue))
        return self.waits.get(queue)
