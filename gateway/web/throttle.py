"""Failed sign-ins, counted per username and per address in Redis; past the allowance each
further failure locks sign-in for that name or address, twice as long as the last time."""
from __future__ import annotations

import hashlib

WINDOW = 3600  # failures are forgotten an hour after the last one
MAX_LOCKOUT = 3600


class LoginThrottle:
    def __init__(self, redis, key_prefix: str, *, failures: int = 5, lockout: float = 60):
        self.redis = redis
        self.prefix = f"{key_prefix}:web:login"
        self.failures, self.lockout = failures, lockout

    def _keys(self, username: str, address: str | None) -> list[tuple[str, str]]:
        # Hashed: a username as typed may be anything, and key names are no place for it.
        names = [f"user:{hashlib.sha256(username.lower().encode()).hexdigest()[:32]}"]
        if address:
            names.append(f"addr:{address}")
        return [(f"{self.prefix}:fail:{n}", f"{self.prefix}:lock:{n}") for n in names]

    async def retry_after(self, username: str, address: str | None) -> int:
        """Seconds until sign-in may be tried again for this name from this address (0: now)."""
        waits = [await self.redis.ttl(lock) for _, lock in self._keys(username, address)]
        return max([w for w in waits if w > 0], default=0)

    async def failed(self, username: str, address: str | None) -> None:
        for fail, lock in self._keys(username, address):
            count = await self.redis.incr(fail)
            await self.redis.expire(fail, WINDOW)
            if count >= self.failures:
                seconds = min(MAX_LOCKOUT, self.lockout * 2 ** (count - self.failures))
                await self.redis.set(lock, "1", ex=max(1, int(seconds)))

    async def succeeded(self, username: str) -> None:
        for fail, lock in self._keys(username, None):
            await self.redis.delete(fail, lock)
