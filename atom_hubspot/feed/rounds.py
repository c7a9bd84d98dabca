"""A job run in rounds in the background: again at once while it has more to do, otherwise
after a pause or when woken. A failing round is logged and the next one comes all the same."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("atom_hubspot.feed")


class Rounds:
    def __init__(self, name: str, one_round: Callable[[], Awaitable[bool]], pause_s: float) -> None:
        """`one_round()` answers whether there is more to do right away."""
        self.name = name
        self.one_round = one_round
        self.pause_s = pause_s
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._stop.clear()
            self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    def wake(self) -> None:
        self._wake.set()

    async def aclose(self) -> None:
        self._stop.set()
        self._wake.set()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                more = await self.one_round()
            except Exception:  # the job must outlive one bad round
                log.exception("%s: a round failed; will retry", self.name)
                more = False
            if more:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.pause_s)
