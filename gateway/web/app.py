"""The web application: one FastAPI app that every feature plugs a router into.

    app = create_app(services)                     # the pages and the REST API
    app = create_app(services, routers=[...])      # or exactly these features

Around every route: the raw-path reading, the body bound and the security headers
(middleware.py), the CSRF check for session requests (deps.csrf_guard) and errors as
`{"error": ...}` (errors.py).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from gateway.web.deps import csrf_guard
from gateway.web.errors import install_error_handlers
from gateway.web.middleware import BoundedBody, RawPath, SecurityHeaders
from gateway.web.services import WebServices

STATIC = Path(__file__).resolve().parent / "static"
DESK_STATIC = Path(__file__).resolve().parent.parent / "desk" / "static"

API_DESCRIPTION = ("Agent state controls and queue snapshots of the contact-centre gateway. An agent token "
                   "reaches only its own agent; a supervisor token reaches the agents of its team and the "
                   "queues whose policy names that team. Tokens come from `ctigw api-token`. The agent desk's routes "
                   "(/desk/api) use the web sign-in session instead (its cookie, and its CSRF token in the "
                   "X-CSRF-Token header of every change).")


def default_routers() -> list[APIRouter]:
    """The features the gateway serves; a new feature adds its router here."""
    from gateway.api.resources import router as api
    from gateway.desk.resources import router as desk
    from gateway.desk.routes import router as desk_api
    from gateway.web.ops import router as ops
    from gateway.web.pages import router as pages

    return [desk, pages, api, desk_api, ops]  # the desk's /desk serves agents before the pages' placeholder


def create_app(services: WebServices, routers: Iterable[APIRouter] | None = None) -> FastAPI:
    app = FastAPI(title="ctigw", version="1.0.0", description=API_DESCRIPTION,
                  openapi_url="/api/v1/openapi.json", docs_url=None, redoc_url=None,  # their pages need a CDN
                  redirect_slashes=False, dependencies=[Depends(csrf_guard)])
    app.state.services = services
    install_error_handlers(app)
    app.mount("/static/web", StaticFiles(directory=STATIC), name="web-static")
    app.mount("/static/desk", StaticFiles(directory=DESK_STATIC), name="desk-static")
    for router in default_routers() if routers is None else routers:
        app.include_router(router)
    # Added innermost first: RawPath sees the request before anything else routes on it.
    app.add_middleware(BoundedBody, max_body=services.max_body)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RawPath)
    return app
