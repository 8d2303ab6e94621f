"""What the IVR may ask of the rest of the gateway while a caller is in a flow."""
from __future__ import annotations

from gateway.calls.ports import AcdPort, CrmPort
from gateway.crm.views import CaseSummary


class IvrServices:
    """The CRM's self-service answers and the ACD's wait estimate, behind one object
    (gateway.ivr.channel.SelfServices)."""

    def __init__(self, crm: CrmPort, acd: AcdPort):
        self.crm = crm
        self.acd = acd

    async def verify_account(self, customer_id, account_number: str) -> bool:
        return await self.crm.verify_account(customer_id, account_number)

    async def case_status(self, customer_id) -> CaseSummary | None:
        return await self.crm.case_status(customer_id)

    async def estimated_wait(self, queue: str) -> float | None:
        return await self.acd.estimated_wait(queue)
