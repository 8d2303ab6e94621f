"""Web sign-in sessions in Redis, with an idle and an absolute expiry.

The session id (the cookie's value) is `secrets.token_urlsafe(32)`; Redis keeps the session
under `<prefix>:web:session:<id>` with a TTL of whichever expiry comes first, refreshed on
every use. Each session carries its own CSRF token. Signing out deletes the key, so a copied
cookie is worthless afterwards; disabling an account or changing its password ends all of its
sessions (each account's session ids are listed under `<prefix>:web:sessions-of:<username>`).
"""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass

_SESSION_ID_MAX = 128


@dataclass(frozen=True)
class WebSession:
    id: str
    username: str
    display_name: str
    role: str
    agent_id: str | None
    teams: tuple[str, ...]
    locale: str
    csrf_token: str
    created: float
    last_seen: float


class SessionStore:
    def __init__(self, redis, key_prefix: str, *, idle: float, absolute: float, clock=time.time):
        if idle <= 0 or absolute <= 0:
            raise ValueError("session expiries must be positive")
        self.redis = redis
        self.prefix = f"{key_prefix}:web:session"
        self.user_prefix = f"{key_prefix}:web:sessions-of"
        self.idle, self.absolute = idle, absolute
        self.clock = clock

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}:{session_id}"

    def _ttl(self, session: WebSession, now: float) -> int:
        return max(1, int(min(self.idle, session.created + self.absolute - now) + 0.999))

    async def _save(self, session: WebSession, now: float) -> None:
        data = asdict(session) | {"teams": list(session.teams)}
        await self.redis.set(self._key(session.id), json.dumps(data), ex=self._ttl(session, now))

    async def create(self, account) -> WebSession:
        now = self.clock()
        session = WebSession(secrets.token_urlsafe(32), account.username, account.display_name, account.role,
                             account.agent_id, tuple(account.teams), account.locale, secrets.token_urlsafe(32),
                             now, now)
        await self._save(session, now)
        user_key = f"{self.user_prefix}:{account.username}"
        await self.redis.sadd(user_key, session.id)
        await self.redis.expire(user_key, int(self.absolute) + 1)
        return session

    async def end_all(self, username: str) -> int:
        """End every session of `username`; returns how many were live."""
        user_key = f"{self.user_prefix}:{username}"
        ids = [i.decode() if isinstance(i, bytes) else i for i in await self.redis.smembers(user_key)]
        ended = await self.redis.delete(*[self._key(i) for i in ids]) if ids else 0
        await self.redis.delete(user_key)
        return ended

    async def get(self, session_id: str | None) -> WebSession | None:
        """The live session with this id (its idle clock restarted), or None: unknown, forged,
        idle too long, too old or signed out."""
        if not session_id or len(session_id) > _SESSION_ID_MAX or not session_id.isascii():
            return None
        raw = await self.redis.get(self._key(session_id))
        if raw is None:
            return None
        data = json.loads(raw)
        session = WebSession(**(data | {"teams": tuple(data["teams"])}))
        now = self.clock()
        if now - session.last_seen >= self.idle or now - session.created >= self.absolute:
            await self.delete(session_id)
            return None
        session = WebSession(**(asdict(session) | {"last_seen": now}))
        await self._save(session, now)
        return session

    async def set_locale(self, session: WebSession, locale: str) -> WebSession:
        """The same session, speaking `locale` from its next page on."""
        now = self.clock()
        changed = WebSession(**(asdict(session) | {"locale": locale, "last_seen": now}))
        await self._save(changed, now)
        return changed

    async def delete(self, session_id: str) -> None:
        if session_id and len(session_id) <= _SESSION_ID_MAX:
            await self.redis.delete(self._key(session_id))
