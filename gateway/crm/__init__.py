"""The CRM side of the gateway: who is calling, and one activity per call.

    from gateway.crm import CrmStore, ActivityLog, CallActivity

    store = await CrmStore.open(settings.crm_url, region=settings.gateway.default_region,
                                create_leads=settings.crm.create_leads, migrate=True)
    view = await store.lookup(raw_ani)            # CallerView; never raises
    log = ActivityLog(store, settings.spool_path)
    log.start()
    await log.record_call(CallActivity(linkedid=..., outcome="answered", ...))

Modules, one job each: models (schema), migrations + migrate (Alembic), numbers (ANI ->
E.164), queries (the hot SQL), backend_sqlite / backend_pg (the engines), store (lookup and
self-service), views (what a lookup returns), activities (the call log), spool (its durable
queue), directory (an agent's search, customer view, numbers, new customers and cases),
folding (names as search compares them), importer (CSV), demo_data (demo and benchmark
data), progress (a progress bar).
"""
from gateway.crm.activities import ActivityLog, CallActivity
from gateway.crm.backend import CrmUnavailable
from gateway.crm.directory import CustomerDirectory
from gateway.crm.numbers import Ani, classify_ani
from gateway.crm.store import CrmStore
from gateway.crm.views import ActivitySummary, CallerView, CaseSummary, OrderSummary

__all__ = [
    "ActivityLog", "ActivitySummary", "Ani", "CallActivity", "CallerView", "CaseSummary", "CrmStore",
    "CrmUnavailable", "CustomerDirectory", "OrderSummary", "classify_ani",
]
