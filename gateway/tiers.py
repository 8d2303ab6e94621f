"""The customer tiers: the one table the CRM stores, the IVR branches on and the ACD weighs.

Best first. How many priority points a tier is worth is queue policy (agents/queues.yaml,
`priority.tiers`), decided by the ACD alone.
"""
from __future__ import annotations

TIERS = ("platinum", "gold", "silver", "bronze", "standard", "lead")
DEFAULT_TIER = "standard"  # a customer imported or created without one
LEAD_TIER = "lead"  # a caller the CRM recorded as a lead, not a customer yet
NO_TIER = "none"  # IVR conditions: a caller without a tier (unknown to the CRM)
