"""Bearer tokens for the HTTP API, and who may do what with them.

A token names one principal, `agent:<agent_id>` or `supervisor:<team_id>`, with a token id
and an expiry (Unix seconds), and carries an HMAC-SHA256 of that text under the gateway's
secret ([http] token_secret):

    <base64url("role:subject:token_id:expires")>.<base64url(hmac_sha256(secret, that text))>

A token past its expiry is refused here; one token is revoked by its id (a revocation list in
Redis, gateway.api.revocations); changing the secret revokes every token at once. Neither the
secret nor a token is ever logged or put in an error message.

Rules: an agent reads and controls only themselves; a supervisor reads and controls the
agents of their own team and reads the snapshots of the queues whose policy names that team.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field

AGENT = "agent"
SUPERVISOR = "supervisor"
ROLES = (AGENT, SUPERVISOR)

MIN_SECRET_LENGTH = 16
MAX_TOKEN_LENGTH = 512
DEFAULT_TTL = 30 * 24 * 3600
_SUBJECT = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TOKEN_ID = re.compile(r"[A-Za-z0-9_-]{8,32}")


class TokenError(ValueError):
    """A token that is missing, malformed or not signed with this gateway's secret."""


class TokenSecretError(ValueError):
    """No usable secret is configured."""


@dataclass(frozen=True)
class Principal:
    role: str
    subject: str
    # Which token spoke, and until when it may: not part of who the principal is.
    token_id: str | None = field(default=None, compare=False)
    expires_at: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.role}:{self.subject}"


def _key(secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else bytes(secret or b"")
    if len(key) < MIN_SECRET_LENGTH:
        raise TokenSecretError(f"the HTTP token secret must be at least {MIN_SECRET_LENGTH} characters "
                               "([http] token_secret or CTIGW_HTTP_TOKEN_SECRET)")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise TokenError("malformed token")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise TokenError("malformed token") from None


def _check_principal(role: str, subject: str) -> None:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if not isinstance(subject, str) or not _SUBJECT.fullmatch(subject):
        raise ValueError("subject must be 1-64 characters of letters, digits, '_', '.' or '-'")


def _signature(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()


def issue_token(secret: str | bytes, role: str, subject: str, *, ttl: float = DEFAULT_TTL,
                now: float | None = None) -> str:
    """A token for `role:subject` (role "agent" with an agent id, "supervisor" with a team id),
    valid for `ttl` seconds, with a fresh token id (see token_id())."""
    _check_principal(role, subject)
    if not ttl or ttl <= 0:
        raise ValueError("a token's lifetime must be positive")
    expires = int((time.time() if now is None else now) + ttl)
    # Hex, not base64url: an id starting with "-" would read as an option on `ctigw api-token revoke ID`.
    payload = f"{role}:{subject}:{secrets.token_hex(12)}:{expires}".encode()
    return f"{_b64(payload)}.{_b64(_signature(_key(secret), payload))}"


def verify_token(secret: str | bytes, token: str, *, now: float | None = None) -> Principal:
    """The principal a token names; TokenError unless it is well formed, signed with `secret`
    and not expired. (Revocation is checked by the caller, against Redis.)"""
    key = _key(secret)
    principal = _parse(token, key)
    if principal.expires_at <= (time.time() if now is None else now):
        raise TokenError("token expired")
    return principal


def read_token_unverified(token: str) -> Principal:
    """What a token says, signature unchecked: for revoking a token by pasting it."""
    return _parse(token, None)


def _parse(token: str, key: bytes | None) -> Principal:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise TokenError("malformed token")
    payload_text, signature_text = token.split(".")
    payload, signature = _unb64(payload_text), _unb64(signature_text)
    if key is not None and not hmac.compare_digest(signature, _signature(key, payload)):
        raise TokenError("invalid token signature")
    try:
        role, subject, token_id, expires = payload.decode("ascii").split(":")
        _check_principal(role, subject)
        if not _TOKEN_ID.fullmatch(token_id) or not expires.isdigit():
            raise ValueError
    except (UnicodeDecodeError, ValueError):
        raise TokenError("malformed token") from None
    return Principal(role, subject, token_id, int(expires))


# -- authorization -------------------------------------------------------------------------

def may_access_agent(principal: Principal, agent_id: str, roster) -> bool:
    """May `principal` read and control `agent_id`? (Unknown agents belong to no team.)"""
    if principal.role == AGENT:
        return principal.subject == agent_id
    if principal.role == SUPERVISOR:
        agent = roster.agent(agent_id)
        return agent is not None and agent.team == principal.subject
    return False


def may_read_queue(principal: Principal, queue: str, queues) -> bool:
    """May `principal` read the snapshot of `queue`? Only the supervisor of the queue's team."""
    if principal.role != SUPERVISOR:
        return False
    policy = queues.policy(queue)
    return policy is not None and bool(policy.team) and policy.team == principal.subject
