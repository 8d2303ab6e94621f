"""Errors as the clients see them: `{"error": "..."}` with the status (the REST API's wire
format since its first version), and a redirect to the sign-in page where a page needs a
session it does not have."""
from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException

log = logging.getLogger(__name__)


class SignInRequired(Exception):
    """A page was asked for without a live session."""


def error_response(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:5]:
        kind, where = error.get("type", ""), [str(p) for p in error.get("loc", ()) if p != "body"]
        if kind == "json_invalid":
            return "request body is not valid JSON"
        if kind == "extra_forbidden":
            problems.append(f"unexpected field {where[-1]!r}"[:60] if where else "unexpected field")
        elif kind == "missing" and not where:
            problems.append("a JSON object body is required")
        elif kind in ("model_attributes_type", "dict_type", "model_type"):
            problems.append("request body must be a JSON object")
        elif where:
            problems.append(f'"{".".join(where)[:40]}": {error.get("msg", "invalid")}')
        else:
            problems.append(str(error.get("msg", "invalid request")))
    return "; ".join(problems) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        headers = dict(exc.headers or {})
        if exc.status_code == 404 and exc.detail == "Not Found":
            return error_response(404, "no such route")
        if exc.status_code == 405 and "Allow" in headers:
            allowed = ", ".join(m.strip() for m in headers["Allow"].split(","))
            return error_response(405, f"method {request.method} not allowed; use {allowed}", {"Allow": allowed})
        return error_response(exc.status_code, str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError):
        return error_response(400, _validation_message(exc))

    @app.exception_handler(SignInRequired)
    async def sign_in(request: Request, exc: SignInRequired):
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception):
        log.error("HTTP %s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, "internal error")
