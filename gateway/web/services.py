"""What the web application's routes call: the services, built once by the gateway (or a
test) and handed to create_app. Routes reach them through gateway.web.deps."""
from __future__ import annotations

from dataclasses import dataclass

from gateway.api.revocations import TokenRevocations
from gateway.web.accounts import AccountStore
from gateway.web.audit import AuditLog
from gateway.web.sessions import SessionStore
from gateway.web.throttle import LoginThrottle

MAX_BODY_BYTES = 8 * 1024


@dataclass
class WebServices:
    acd: object  # gateway.acd.service.Acd
    accounts: AccountStore
    audit: AuditLog
    sessions: SessionStore
    throttle: LoginThrottle
    revocations: TokenRevocations
    token_secret: str = ""  # the API's bearer tokens; empty: every token is refused
    max_body: int = MAX_BODY_BYTES
    desk: object | None = None  # gateway.desk.service.DeskService: the agent desk's live page
    wrapups: object | None = None  # gateway.desk.wrapup.WrapupService
    not_ready_reasons: tuple[str, ...] = ("break", "lunch", "meeting", "training", "coaching")

    def __repr__(self) -> str:  # never show the secret
        return "<WebServices>"


def web_services(settings, redis, acd, engine, *, desk=None, wrapups=None) -> WebServices:
    """The services for `settings`, on a Redis client and the CRM database's sync engine
    (and the agent desk's services, when the gateway has them)."""
    http, prefix = settings.http, settings.redis.key_prefix
    return WebServices(
        acd=acd,
        accounts=AccountStore(engine),
        audit=AuditLog(engine),
        sessions=SessionStore(redis, prefix, idle=http.session_idle, absolute=http.session_absolute),
        throttle=LoginThrottle(redis, prefix, failures=http.login_failures, lockout=http.login_lockout),
        revocations=TokenRevocations(redis, prefix),
        token_secret=http.token_secret,
        desk=desk,
        wrapups=wrapups,
        not_ready_reasons=tuple(http.not_ready_reasons),
    )
