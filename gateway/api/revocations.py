"""Revoked API tokens, one by one: a key per revoked token id in Redis, kept until the token
would have expired anyway (after that the expiry refuses it)."""
from __future__ import annotations

import re
import time

_TOKEN_ID = re.compile(r"[A-Za-z0-9_-]{8,32}")
# A token revoked by its id alone (its expiry unknown) stays listed this long.
LONGEST_TOKEN_LIFE = 366 * 24 * 3600


class TokenRevocations:
    def __init__(self, redis, key_prefix: str, clock=time.time):
        self.redis = redis
        self.prefix = f"{key_prefix}:api:revoked"
        self.clock = clock

    def _key(self, token_id: str) -> str:
        if not isinstance(token_id, str) or not _TOKEN_ID.fullmatch(token_id):
            raise ValueError("a token id is 8-32 characters of letters, digits, '_' or '-'")
        return f"{self.prefix}:{token_id}"

    async def revoke(self, token_id: str, expires_at: float | None = None) -> None:
        ttl = LONGEST_TOKEN_LIFE if expires_at is None else int(expires_at - self.clock()) + 1
        await self.redis.set(self._key(token_id), "1", ex=max(ttl, 1))

    async def is_revoked(self, token_id: str) -> bool:
        return bool(await self.redis.exists(self._key(token_id)))
