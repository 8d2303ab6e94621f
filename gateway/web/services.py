"""What the web application's routes call: the services, built once by the gateway (or a
test) and handed to create_app. Routes reach them through gateway.web.deps."""
from __future__ import annotations

from dataclasses import dataclass, field

from gateway.agi.access import AllowList
from gateway.api.revocations import TokenRevocations
from gateway.desk.reasons import NOT_READY_REASONS, NotReadyReason, not_ready_reasons
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
    # The agent desk's services (gateway/desk/); a route whose service is missing answers 503.
    desk: object = None  # gateway.desk.service.DeskService
    wrapups: object = None  # gateway.desk.wrapup.WrapupService
    directory: object = None  # gateway.crm.directory.CustomerDirectory
    agent_calls: object = None  # gateway.calls.agent_actions.AgentCallActions
    not_ready_reasons: tuple[NotReadyReason, ...] = field(default=NOT_READY_REASONS)
    # Operations (gateway/web/ops.py): /metrics and /readyz answer 503 while these are missing.
    metrics: object = None  # gateway.metrics.GatewayMetrics
    readiness: object = None  # gateway.health.Readiness
    metrics_token: str = ""  # GET /metrics wants this bearer token; empty: metrics_hosts decide
    metrics_hosts: AllowList = field(default_factory=lambda: AllowList(["127.0.0.1", "::1"]))

    def __repr__(self) -> str:  # never show the secret
        return "<WebServices>"


def web_services(settings, redis, acd, engine, **desk) -> WebServices:
    """The services for `settings`, on a Redis client and the CRM database's sync engine;
    `desk`: the agent desk's (desk, wrapups, directory, agent_calls) and the operations'
    (metrics, readiness)."""
    http, prefix = settings.http, settings.redis.key_prefix
    return WebServices(
        acd=acd,
        accounts=AccountStore(engine),
        audit=AuditLog(engine),
        sessions=SessionStore(redis, prefix, idle=http.session_idle, absolute=http.session_absolute),
        throttle=LoginThrottle(redis, prefix, failures=http.login_failures, lockout=http.login_lockout),
        revocations=TokenRevocations(redis, prefix),
        token_secret=http.token_secret,
        not_ready_reasons=not_ready_reasons(settings),
        metrics_token=http.metrics_token,
        metrics_hosts=AllowList(http.metrics_allowed_hosts),
        **desk,
    )
