"""Group commit in the web process: dialog turns that arrive while a group is being stored wait
and go together in the next one (one thread hop, one Redis round trip each way, one SQL
transaction per group; IntakeService.handle_many).

A lone turn on an idle server starts at once; under load, groups grow by themselves to what
arrived during the last one, so no timer adds latency. One group is in flight at a time: SQLite
has one writer, and on PostgreSQL one group of N turns costs less than N transactions.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from concurrent.futures import Executor

from aiohttp import web

from channels.http_common import EXECUTOR_KEY
from intake.service import IntakeResult, IntakeService, TurnInput

log = logging.getLogger(__name__)
MAX_GROUP = 256


class TurnGroups:
    def __init__(self, service: IntakeService, *, inline: bool) -> None:
        self.service = service
        self.inline = inline
        self._waiting: list[tuple[TurnInput, asyncio.Future[IntakeResult]]] = []
        self._runner: asyncio.Task[None] | None = None

    async def handle(self, request: web.Request, item: TurnInput) -> IntakeResult:
        """The turn's result once its group is committed. A client that goes away does not
        take the turn with it: the group is stored all the same."""
        fut: asyncio.Future[IntakeResult] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, fut))
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(request.app[EXECUTOR_KEY]))
        return await asyncio.shield(fut)

    async def _run(self, executor: Executor) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                group, self._waiting = self._waiting[:MAX_GROUP], self._waiting[MAX_GROUP:]
                call = functools.partial(self.service.handle_many, [g[0] for g in group], inline=self.inline)
                try:
                    results = await loop.run_in_executor(executor, call)
                except Exception as e:  # handle_many reports per turn; this is the thread itself failing
                    log.exception("a group of %d turns could not be handled", len(group))
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
