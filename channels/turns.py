"""Group commit: work that arrives while a group is being stored waits and goes together in the
next one (one thread hop, one SQL transaction per group, and for dialog turns one Redis round
trip each way; IntakeService.handle_many).

A lone item on an idle server starts at once; under load, groups grow by themselves to what
arrived during the last one, so no timer adds latency. One group is in flight at a time: SQLite
has one writer, and on PostgreSQL one group of N items costs less than N transactions.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Generic, TypeVar

from aiohttp import web

from channels.http_common import EXECUTOR_KEY
from intake.service import IntakeResult, IntakeService, TurnInput

log = logging.getLogger(__name__)
MAX_GROUP = 256
T = TypeVar("T")
R = TypeVar("R")


class Groups(Generic[T, R]):
    """``run`` takes a group and returns one result or exception per item, in order; ``submit``
    gives an item's own. An exception of ``run`` itself fails its whole group.

    ``run`` goes to a thread, or with ``on_loop`` runs on the event loop itself: for work that
    never waits on a network (a SQLite file), handing it to a thread costs more than it takes
    (the loop and the thread take turns with the GIL; measured on the smtp process: a third
    more mail stored per second on the loop)."""

    def __init__(
        self,
        run: Callable[[list[T]], Sequence[R | Exception]],
        *,
        max_group: int = MAX_GROUP,
        on_loop: bool = False,
    ) -> None:
        self.run = run
        self.max_group = max_group
        self.on_loop = on_loop
        self._waiting: list[tuple[T, asyncio.Future[R]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def submit(self, item: T, executor: Executor | None = None) -> R:
        """The item's result once its group is done. A caller that goes away does not take the
        item with it: the group is stored all the same."""
        fut: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, fut))
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(executor))
        return await asyncio.shield(fut)

    async def _run(self, executor: Executor | None) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                group, self._waiting = self._waiting[: self.max_group], self._waiting[self.max_group :]
                call = functools.partial(self.run, [g[0] for g in group])
                try:
                    if self.on_loop:
                        await asyncio.sleep(0)  # what is ready to arrive joins this group
                        results: Sequence[R | Exception] = call()
                    else:
                        results = await loop.run_in_executor(executor, call)
                except Exception as e:  # run reports per item; this is the thread itself failing
                    log.exception("a group of %d could not be handled", len(group))
                    results = [e] * len(group)
                for (_, fut), out in zip(group, results, strict=True):
                    if fut.done():
                        continue
                    if isinstance(out, Exception):
                        fut.set_exception(out)
                    else:
                        fut.set_result(out)
        finally:
            self._runner = None


class TurnGroups:
    """Dialog turns of the web process (web chat, SMS) in groups."""

    def __init__(self, service: IntakeService) -> None:
        self._groups: Groups[TurnInput, IntakeResult] = Groups(service.handle_many)

    async def handle(self, request: web.Request, item: TurnInput) -> IntakeResult:
        return await self._groups.submit(item, request.app[EXECUTOR_KEY])
