"""The ACD's periodic work in the background: the tick (wrap-up ends, relax steps, stale
offers, announcements) and watching the roster and queue files for edits.

Tests call `Acd.tick(now)` themselves with a fake clock; the gateway runs this loop.
"""
from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Awaitable, Callable, Iterable

from gateway.acd.background import BackgroundLoop

log = logging.getLogger(__name__)


class FileWatcher:
    """Tells when any of some files changed since the last look (by mtime and size)."""

    def __init__(self, paths: Iterable[str | os.PathLike]):
        self.paths = [Path(p) for p in paths]
        self._seen = self._fingerprint()

    def _fingerprint(self) -> tuple:
        prints = []
        for path in self.paths:
            try:
                stat = path.stat()
                prints.append((stat.st_mtime_ns, stat.st_size))
            except FileNotFoundError:
                prints.append(None)
        return tuple(prints)

    def changed(self) -> bool:
        now = self._fingerprint()
        if now != self._seen:
            self._seen = now
            return True
        return False


class Ticker(BackgroundLoop):
    task_name = "acd-ticker"

    def __init__(self, tick: Callable[[float], Awaitable[None]], clock: Callable[[], float], interval: float = 1.0,
                 watcher: FileWatcher | None = None, on_files_changed: Callable[[], Awaitable[None]] | None = None,
                 watch_every: float = 2.0):
        self.tick = tick
        self.clock = clock
        self.interval = interval
        self.watcher = watcher
        self.on_files_changed = on_files_changed
        self.watch_every = watch_every

    async def _run(self) -> None:
        since_watch = 0.0
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.tick(self.clock())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("ACD tick failed")
            since_watch += self.interval
            if self.watcher is not None and since_watch >= self.watch_every:
                since_watch = 0.0
                if self.watcher.changed() and self.on_files_changed is not None:
                    try:
                        await self.on_files_changed()
                    except Exception:
                        log.exception("roster/queue reload failed; keeping the previous ones")
