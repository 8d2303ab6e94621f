"""The pages every user meets: sign in, sign out, and the desk placeholder the agent
desktop grows from.

    GET  /          -> /desk
    GET  /login     the sign-in form (its own CSRF cookie: no session exists yet)
    POST /login     username, password, csrf_token -> a session cookie, then /desk
    POST /logout    ends the session (csrf_token), then /login
    POST /account/language   locale, next (csrf_token): the account's language, then back to `next`
    GET  /desk      the signed-in agent's or supervisor's page
"""
from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from gateway.web import deps
from gateway.web.accounts import AccountDisabled, SignInFailed
from gateway.web.i18n import LOCALES
from gateway.web.deps import SESSION_COOKIE, client_address, require_role, services
from gateway.web.i18n import negotiate, translations

TEMPLATES = Path(__file__).resolve().parent / "templates"
LOGIN_CSRF_COOKIE = "ctigw_login"
MAX_USERNAME = 64

templates = Jinja2Templates(env=Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True))
router = APIRouter(include_in_schema=False)


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def render(request: Request, name: str, locale: str, status: int = 200, **context) -> HTMLResponse:
    gettext = translations(locale).gettext
    return templates.TemplateResponse(request, name, {"locale": locale, "_": gettext, **context},
                                      status_code=status)


@router.get("/")
async def root():
    return RedirectResponse("/desk", status_code=303)


@router.get("/login")
async def login_form(request: Request):
    if await deps.live_session(request) is not None:
        return RedirectResponse("/desk", status_code=303)
    return _login_page(request)


def _login_page(request: Request, status: int = 200, message: str = "", username: str = "",
                headers: dict | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", negotiate(request.headers.get("accept-language")), status,
                      csrf_token=token, message=message, username=username)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path="/login", httponly=True, samesite="strict",
                        secure=_secure(request))
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@router.post("/login")
async def login(request: Request, username: str = Form(""), password: str = Form(""),
                csrf_token: str = Form("")):
    web = services(request)
    gettext = translations(negotiate(request.headers.get("accept-language"))).gettext
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf_token.encode(), expected.encode()):
        return _login_page(request, 403, gettext("The form had expired. Please try again."), username[:MAX_USERNAME])
    username = username.strip().lower()[:MAX_USERNAME]
    address = client_address(request)
    wait = await web.throttle.retry_after(username, address)
    if wait:
        await deps.audit(request, actor=username, role=None, action="login", target=None, outcome="throttled")
        return _login_page(request, 429, gettext("Too many failed sign-ins. Try again in %(seconds)s seconds.")
                           % {"seconds": wait}, username, {"Retry-After": str(wait)})
    try:
        account = await web.accounts.authenticate_async(username, password)
    except (SignInFailed, AccountDisabled) as exc:
        await web.throttle.failed(username, address)
        disabled = isinstance(exc, AccountDisabled)
        await deps.audit(request, actor=username, role=None, action="login", target=None,
                         outcome="disabled" if disabled else "failed")
        if disabled:
            return _login_page(request, 403, gettext("This account is disabled."), username)
        return _login_page(request, 401, gettext("Wrong username or password."), username)
    await web.throttle.succeeded(username)
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await web.sessions.delete(old)  # never carry a session id over a sign-in
    session = await web.sessions.create(account)
    await deps.audit(request, actor=account.username, role=account.role, action="login", target=None, outcome="ok")
    response = RedirectResponse("/desk", status_code=303)
    response.set_cookie(SESSION_COOKIE, session.id, path="/", httponly=True, samesite="strict",
                        secure=_secure(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request):
    session = await deps.live_session(request)  # the CSRF guard has checked its token
    if session is not None:
        await services(request).sessions.delete(session.id)
        await deps.audit(request, actor=session.username, role=session.role, action="logout", target=None,
                         outcome="ok")
    response: Response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=_secure(request))
    return response


@router.get("/desk")
async def desk(request: Request, session=Depends(require_role("agent", "supervisor"))):
    gettext = translations(session.locale).gettext
    return render(request, "desk.html", session.locale, session=session, role_name=gettext(session.role))


@router.post("/account/language")
async def change_language(request: Request, locale: str = Form(max_length=8), next: str = Form("/desk", max_length=200),
                          session=Depends(require_role("agent", "supervisor", "admin"))):
    """The signed-in person's own language: kept on the account (the next sign-in speaks it too)
    and on this session; the page they were on comes back in it."""
    web = services(request)
    if locale not in LOCALES:
        await deps.audit(request, actor=session.username, role=session.role, action="account.language",
                         target=locale[:8], outcome="refused: unknown locale")
        return Response(status_code=400, content="unknown locale")
    await run_in_threadpool(web.accounts.set_locale, session.username, locale)
    await web.sessions.set_locale(session, locale)
    await deps.audit(request, actor=session.username, role=session.role, action="account.language",
                     target=locale, outcome="ok")
    # Only a path of this site: never an open redirect.
    back = next if next.startswith("/") and not next.startswith("//") and "\\" not in next else "/desk"
    return RedirectResponse(back, status_code=303)
