"""The flows the gateway serves, reloaded when their files change.

A call asks for a flow once, at its start, and keeps that Flow object (flows are never
changed after loading), so a reload never disturbs calls already in a flow. An edit that
does not load (a YAML slip, a node going nowhere) is rejected and logged once; the last
good version goes on serving until the file is fixed.

Changes are noticed by comparing the mtimes of every file a flow was built from (its
sub-flows too): at most once per `poll_interval` in `get()`, on demand with `refresh()`,
or in the background with `watch()`.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path
from typing import Callable

from gateway.ivr.loader import FlowError, flow_file, load_flow
from gateway.ivr.model import Flow

log = logging.getLogger(__name__)


class FlowNotFound(LookupError):
    pass


class FlowRegistry:
    def __init__(self, flows_dir: str | os.PathLike, *, poll_interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic):
        self.flows_dir = Path(flows_dir)
        self.poll_interval = poll_interval
        self.clock = clock
        self._flows: dict[str, Flow] = {}
        self._checked_at: dict[str, float] = {}
        self._rejected: dict[str, tuple] = {}  # name -> file signature of the edit that failed

    def get(self, name: str) -> Flow:
        """The current good version of flow `name` (loading it on first use).
        Raises FlowNotFound, or FlowError when it has never loaded cleanly."""
        if name not in self._flows:
            self._flows[name] = self._load(name)
            self._checked_at[name] = self.clock()
        elif self.clock() - self._checked_at.get(name, 0.0) >= self.poll_interval:
            self.refresh(name)
        return self._flows[name]

    def names(self) -> list[str]:
        return sorted(self._flows)

    def refresh(self, name: str | None = None) -> list[str]:
        """Reloads flows whose files changed (one, or all loaded); returns the names reloaded."""
        reloaded = []
        for flow_name in [name] if name else list(self._flows):
            self._checked_at[flow_name] = self.clock()
            current = self._flows[flow_name]
            signature = _signature(current.sources)
            if signature == _loaded_signature(current.sources) or signature == self._rejected.get(flow_name):
                continue
            try:
                fresh = self._load(flow_name)
            except (FlowError, FlowNotFound) as exc:
                self._rejected[flow_name] = signature
                log.error("flow %s: edit rejected, still serving the last good version:\n%s", flow_name, exc)
                continue
            self._flows[flow_name] = fresh
            self._rejected.pop(flow_name, None)
            reloaded.append(flow_name)
            log.info("flow %s reloaded from %s", flow_name, fresh.path)
        return reloaded

    async def watch(self, interval: float = 2.0) -> None:
        """Polls every `interval` seconds until cancelled (for the gateway's loop)."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.refresh()
            except Exception:  # a watcher that dies silently would freeze the flows
                log.exception("flow refresh failed")

    def _load(self, name: str) -> Flow:
        path = flow_file(self.flows_dir, name)
        if path is None:
            raise FlowNotFound(f"no flow {name!r} in {self.flows_dir}")
        return load_flow(path)


def _signature(sources: dict[str, float]) -> tuple:
    """The files' mtimes now (None for a file that went away)."""
    out = []
    for path in sorted(sources):
        try:
            out.append((path, os.stat(path).st_mtime))
        except OSError:
            out.append((path, None))
    return tuple(out)


def _loaded_signature(sources: dict[str, float]) -> tuple:
    """The files' mtimes as they were when the flow was loaded."""
    return tuple((path, sources[path]) for path in sorted(sources))
