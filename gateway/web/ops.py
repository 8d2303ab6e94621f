"""The operations endpoints (HTTP only): what a monitoring system and an orchestrator ask.

    GET /healthz   200 while the process and its loop answer (no dependency is asked)
    GET /readyz    200 when the gateway can take calls, else 503; the body names each check:
                   {"ready": false, "failed": ["redis"], "checks": {"redis": {"ok": false, "detail": ...}, ...}}
    GET /metrics   Prometheus' text format (gateway/metrics.py), for a bearer token
                   ([http] metrics_token) or, without one, for the allowed addresses
                   ([http] metrics_allowed_hosts: this host by default)

None of them is in the OpenAPI document: they are for machines that know them.
"""
from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from gateway.web import deps

router = APIRouter(include_in_schema=False)
NO_STORE = {"Cache-Control": "no-store"}


@router.get("/healthz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "alive"}, headers=NO_STORE)


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    readiness = deps.services(request).readiness
    if readiness is None:
        raise HTTPException(503, "readiness checks are not set up in this process")
    report = await readiness.run()
    return JSONResponse(report.to_dict(), status_code=200 if report.ready else 503, headers=NO_STORE)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    web = deps.services(request)
    _may_read_metrics(request, web)
    if web.metrics is None:
        raise HTTPException(503, "metrics are not set up in this process")
    from gateway.metrics import CONTENT_TYPE  # prometheus_client only where metrics are served

    return Response(await web.metrics.exposition(), media_type=CONTENT_TYPE, headers=NO_STORE)


def _may_read_metrics(request: Request, web) -> None:
    if web.metrics_token:
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), web.metrics_token.encode()):
            raise HTTPException(401, "metrics need the bearer token ([http] metrics_token)",
                                headers={"WWW-Authenticate": 'Bearer realm="ctigw-metrics"'})
        return
    address = deps.client_address(request)
    if address is None or not web.metrics_hosts.allows(address):
        raise HTTPException(403, "metrics are not served to this address ([http] metrics_allowed_hosts)")
