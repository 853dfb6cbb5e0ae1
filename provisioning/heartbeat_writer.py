"""Heartbeats written to PostgreSQL from the server's event loop (no worker thread per request): a few connections,
each taking every heartbeat waiting and sending them as one pipeline in one transaction — one round trip and one
commit (one WAL flush) for the lot. A batch that fails is retried one heartbeat at a time, so one bad row fails
alone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)


def psycopg_url(sqlalchemy_url: str) -> str:
    """The libpq form of a SQLAlchemy PostgreSQL URL (postgresql+psycopg://… → postgresql://…)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


class _Item:
    __slots__ = ("order", "params", "future")

    def __init__(self, order: int, params: dict[str, Any], future: asyncio.Future[Sequence[Any]]) -> None:
        self.order, self.params, self.future = order, params, future


class BatchWriter:
    """Runs one statement per item on `connections` PostgreSQL connections, batching what waits (at most
    `max_batch` at once). Start and use it inside one running event loop; `close()` before the loop ends."""

    def __init__(self, url: str, statement: str, connections: int = 2, max_batch: int = 64,
                 order_key: str = "terminal_id") -> None:
        self.url, self.statement = psycopg_url(url), statement
        self.connections, self.max_batch, self.order_key = connections, max_batch, order_key
        self._queue: asyncio.Queue[_Item | None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.batches = 0  # how many transactions were committed (the bench reports heartbeats per batch)
        self.written = 0

    async def write(self, params: dict[str, Any]) -> Sequence[Any]:
        """Run the statement with `params` in the next batch; its one result row."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._tasks = [asyncio.create_task(self._run(), name=f"heartbeat-writer-{n}")
                           for n in range(self.connections)]
        future: asyncio.Future[Sequence[Any]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(int(params.get(self.order_key) or 0), params, future))
        return await future

    async def close(self) -> None:
        """Finish what was queued, then close the connections."""
        if self._queue is None:
            return
        for _ in self._tasks:
            self._queue.put_nowait(None)
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._queue, self._tasks = None, []

    async def _run(self) -> None:
        assert self._queue is not None
        queue = self._queue
        connection: psycopg.AsyncConnection[Any] | None = None
        try:
            while True:
                first = await queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < self.max_batch and not queue.empty():
                    item = queue.get_nowait()
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                connection = await self._serve(connection, batch)
                if stop:
                    return
        finally:
            if connection is not None:
                await connection.close()

    async def _serve(self, connection: psycopg.AsyncConnection[Any] | None,
                     batch: list[_Item]) -> psycopg.AsyncConnection[Any] | None:
        """Write a batch (whole, else one by one); the connection to use next (None after it broke)."""
        try:
            if connection is None or connection.closed:
                connection = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
            rows = await self._transaction(connection, batch)
        except Exception as exc:  # any database failure: its items are answered with it, or retried alone
            if connection is not None and connection.broken:
                await connection.close()
                connection = None
            if len(batch) == 1:
                _answer(batch[0], error=exc)
                return connection
            log.warning("heartbeat batch of %d failed (%s); writing them one by one", len(batch), exc)
            for item in batch:
                connection = await self._serve(connection, [item])
            return connection
        for item, row in zip(batch, rows, strict=True):
            _answer(item, row=row)
        return connection

    async def _transaction(self, connection: psycopg.AsyncConnection[Any], batch: list[_Item]) -> list[Any]:
        # The same lock order (by terminal) in every batch of every server: two batches never deadlock.
        batch.sort(key=lambda item: item.order)
        cursors = []
        async with connection.pipeline(), connection.transaction():
            for item in batch:
                cursor = connection.cursor()
                await cursor.execute(self.statement, item.params, prepare=True)
                cursors.append(cursor)
        rows = [await cursor.fetchone() for cursor in cursors]
        self.batches += 1
        self.written += len(batch)
        return rows


def _answer(item: _Item, row: Any = None, error: BaseException | None = None) -> None:
    with contextlib.suppress(asyncio.InvalidStateError):  # the request was cancelled (client gone)
        if error is not None:
            item.future.set_exception(error)
        else:
            item.future.set_result(row)
