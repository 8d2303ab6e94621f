"""A loop the ACD keeps running in the background (event feed, ticker): start and stop."""
from __future__ import annotations

import asyncio


class BackgroundLoop:
    """Subclasses write `async def _run(self)`; `task_name` names the task in dumps."""

    task_name = "acd-background"

    _task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        raise NotImplementedError
