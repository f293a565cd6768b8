"""``SQLiteEventLog``: the durable event log, SQLite in WAL mode, written off the request path.

Life of an event::

    record_inference ──(slot: at most max_pending in flight, else await)──▶ deque
        ──▶ writer thread: batch of ≤ batch_max ops, ≤ max_delay_s old ──▶ one transaction
        ──▶ call_soon_threadsafe ──▶ futures resolved, slots released

A batch that someone awaits (strict events, feedback, a read barrier) closes early, as soon as
every task that was ready on the loop has had its turn to join it: waiting longer would only add
latency, and the next batch fills while this one is fsynced.

Three durability levels:

- ``fsync``: returns once the event's transaction is committed with ``synchronous=FULL`` (an
  fsync per commit, shared by the whole batch): survives a power cut.
- ``strict`` (default): returns once the transaction is committed with ``synchronous=NORMAL``:
  in WAL mode the commit is written to the operating system before the call returns, so it
  survives the process being killed (SIGKILL, OOM, a crash); only a power cut or kernel crash
  can lose the last commits, until the next checkpoint fsyncs them. On this machine an fsync
  costs milliseconds, which bounds ``fsync`` to a few thousand requests per second.
- ``relaxed``: returns once the event is queued (also ``synchronous=NORMAL``), so a crash can
  lose at most the last ``max_delay_s`` of events (a clean ``close()`` loses none).

Nothing is ever dropped: a full queue slows callers down instead. A write failure is sticky:
the log stops writing, every waiting and later call raises ``StoreError``, and ``close()``
raises if acknowledged events were lost.

Queries run on a separate read connection in their own thread (WAL readers never block the
writer); in relaxed mode they first wait until everything already acknowledged is committed, so a
caller always reads its own writes.
"""

from __future__ import annotations

import asyncio
import math
import numbers
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import orjson

from abgate.errors import StoreError
from abgate.events import queries
from abgate.events.schema import open_reader
from abgate.events.types import (
    AdminEvent,
    FeedbackItem,
    FeedbackResult,
    InferenceEvent,
    LogStats,
    ModelTally,
)
from abgate.events.writer import ADMIN, BARRIER, FEEDBACK, INFERENCE, Op, Writer

T = TypeVar("T")


def _valid_feedback(item: FeedbackItem) -> bool:
    if not isinstance(item.request_id, str) or not item.request_id:
        return False
    truth = item.truth
    if not isinstance(truth, numbers.Integral) or int(truth) not in (0, 1):
        return False
    reward = item.reward
    return reward is None or (isinstance(reward, numbers.Real) and math.isfinite(reward))


class SQLiteEventLog:
    """The event log in one SQLite file; satisfies ``EventStore``. Use from one event loop."""

    def __init__(
        self,
        path: str | Path,
        *,
        durability: Literal["fsync", "strict", "relaxed"] = "strict",
        batch_max: int = 512,
        max_delay_s: float = 0.002,
        max_pending: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if durability not in ("fsync", "strict", "relaxed"):
            raise ValueError(
                f"durability must be 'fsync', 'strict' or 'relaxed', got {durability!r}"
            )
        if batch_max < 1:
            raise ValueError(f"batch_max must be >= 1, got {batch_max}")
        if not (max_delay_s >= 0 and math.isfinite(max_delay_s)):
            raise ValueError(f"max_delay_s must be a finite number >= 0, got {max_delay_s}")
        if max_pending < 1:
            raise ValueError(f"max_pending must be >= 1, got {max_pending}")
        if str(path) == ":memory:":
            raise ValueError("SQLiteEventLog needs a file path, not ':memory:'")
        self.path = Path(path)
        self.durability = durability
        self._strict = durability in ("fsync", "strict")  # callers wait for the commit
        self._batch_max = batch_max
        self._max_delay = max_delay_s
        self._max_pending = max_pending
        self._clock = clock

        self._state: Literal["new", "starting", "open", "closing", "closed"] = "new"
        self._writer: Writer | None = None
        self._ready: asyncio.Future[StoreError | None] | None = None
        self._exited: asyncio.Future[None] | None = None
        self._close_task: asyncio.Task[None] | None = None
        self._failure: StoreError | None = None
        self._lost = 0  # relaxed-mode events acknowledged but never written

        # Back-pressure: slots are taken on submit and given back when the batch is committed.
        self._pending = 0
        self._peak_pending = 0
        self._waits = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._drained: asyncio.Future[None] | None = None
        self._nudge_scheduled = False

        self._loop: Any = None  # set by start(): the loop this log serves
        self._reader_pool: ThreadPoolExecutor | None = None
        self._reader_local = threading.local()

    # -- lifespan -------------------------------------------------------------------------------

    def _make_writer(self, loop: asyncio.AbstractEventLoop) -> Writer:
        """The writer thread of this store (the one hook a store of another kind overrides)."""
        return Writer(
            self.path,
            synchronous="FULL" if self.durability == "fsync" else "NORMAL",
            batch_max=self._batch_max,
            max_delay_s=self._max_delay,
            loop=loop,
            on_ready=self._on_ready,
            on_batch=self._on_batch,
            on_exit=self._on_exit,
        )

    async def start(self) -> None:
        """Open (create or migrate) the log and start the writer thread."""
        if self._state != "new":
            raise RuntimeError(f"{type(self).__name__}.start() called on a {self._state} log")
        self._state = "starting"
        loop = self._loop = asyncio.get_running_loop()
        ready: asyncio.Future[StoreError | None] = loop.create_future()
        exited: asyncio.Future[None] = loop.create_future()
        self._ready, self._exited = ready, exited
        self._writer = self._make_writer(loop)
        self._writer.start()
        error = await asyncio.shield(ready)
        if error is not None:
            await asyncio.shield(exited)
            self._state = "closed"
            raise error
        self._reader_pool = ThreadPoolExecutor(1, thread_name_prefix="abgate-events-reader")
        self._state = "open"

    async def close(self) -> None:
        """Write everything accepted so far, then stop. Idempotent; safe to call concurrently.

        Raises ``StoreError`` (once) if acknowledged events could not be written.
        """
        if self._state in ("new", "closed") and self._close_task is None:
            self._state = "closed"
            return
        if self._close_task is not None and self._close_task.done():
            return
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._close())
        await asyncio.shield(self._close_task)

    async def _close(self) -> None:
        if self._state == "starting" and self._ready is not None:
            error = await asyncio.shield(self._ready)  # let start() finish (or fail) first
            if error is not None:
                return
        self._state = "closing"
        if self._writer is not None:
            self._writer.hurry()
        if self._pending or self._waiters:
            self._drained = asyncio.get_running_loop().create_future()
            await self._drained
        if self._writer is not None and self._exited is not None:
            self._writer.stop()
            await self._exited
        if self._reader_pool is not None:
            await asyncio.get_running_loop().run_in_executor(self._reader_pool, self._close_reader)
            self._reader_pool.shutdown(wait=False)
        self._state = "closed"
        if self._lost:
            raise StoreError(
                f"{self._lost} acknowledged events were not written to {self.path}: {self._failure}"
            )

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def stats(self) -> LogStats:
        writer = self._writer
        return LogStats(
            batches=writer.batches if writer else 0,
            events=writer.rows if writer else 0,
            largest_batch=writer.largest_batch if writer else 0,
            pending=self._pending,
            peak_pending=self._peak_pending,
            backpressure_waits=self._waits,
        )

    # -- writing --------------------------------------------------------------------------------

    async def record_inference(self, event: InferenceEvent) -> None:
        """Log one inference; see the module docstring for when this returns."""
        if type(event) is not InferenceEvent:
            raise TypeError(f"expected InferenceEvent, got {type(event).__name__}")
        await self._submit(INFERENCE, event, wait=self._strict)

    async def record_admin(self, event: AdminEvent) -> None:
        """Log a weight change, breaker transition, rollout or other admin action."""
        if not isinstance(event, AdminEvent):
            raise TypeError(f"expected AdminEvent, got {type(event).__name__}")
        try:
            payload = orjson.dumps(dict(event.payload), option=orjson.OPT_SORT_KEYS).decode()
        except orjson.JSONEncodeError as exc:
            raise TypeError(f"AdminEvent.payload is not JSON-serialisable: {exc}") from exc
        await self._submit(ADMIN, (event, payload), wait=self._strict)

    async def record_feedback(
        self, experiment: str, items: Sequence[FeedbackItem]
    ) -> FeedbackResult:
        """Join ground truth to the experiment's predictions; returns once it is committed.

        Runs in the writer in queue order, so it sees every inference recorded before it, even
        one still waiting for its batch.
        """
        if not isinstance(experiment, str) or not experiment:
            raise ValueError("experiment must be a non-empty string")
        self._check_open()
        items = tuple(items)
        for item in items:
            if not isinstance(item, FeedbackItem):
                raise TypeError(f"expected FeedbackItem, got {type(item).__name__}")
        valid = tuple(_valid_feedback(item) for item in items)
        if not any(valid):  # nothing to join: answer without a round trip to the writer
            return FeedbackResult(0, (), (), tuple(str(item.request_id) for item in items))
        result: FeedbackResult = await self._submit(
            FEEDBACK, (experiment, float(self._clock()), items, valid), wait=True
        )
        return result

    def _check_open(self) -> Writer:
        if self._failure is not None:
            raise StoreError(str(self._failure)) from self._failure
        if self._state != "open" or self._writer is None:
            if self._state in ("closing", "closed"):
                raise StoreError(f"event log {self.path} is closed")
            raise RuntimeError("SQLiteEventLog used before start()")
        return self._writer

    async def _submit(self, code: int, payload: object, *, wait: bool) -> Any:
        writer = self._check_open()
        if self._pending >= self._max_pending or self._waiters:
            await self._wait_for_slot()
            if self._failure is not None:
                self._release(1)
                raise StoreError(str(self._failure)) from self._failure
        else:
            self._pending += 1
            if self._pending > self._peak_pending:
                self._peak_pending = self._pending
        if not wait:
            writer.submit((code, payload, None, time.monotonic()))
            return None
        return await self._submit_and_wait(writer, code, payload)

    async def _submit_and_wait(self, writer: Writer, code: int, payload: object) -> Any:
        loop = self._loop  # the writer posts to it; asking asyncio costs a getpid() call
        future = loop.create_future()
        writer.submit((code, payload, future, time.monotonic()))
        if not self._nudge_scheduled:
            # Runs after every task that is ready now has had its turn to join this batch.
            self._nudge_scheduled = True
            loop.call_soon(self._nudge, writer)
        return await future

    def _nudge(self, writer: Writer) -> None:
        self._nudge_scheduled = False
        writer.nudge()

    async def _wait_for_slot(self) -> None:
        self._waits += 1
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # _release() hands the slot over before resolving the waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(1)  # the slot was handed over just as we were cancelled
            raise

    def _release(self, slots: int) -> None:
        self._pending -= slots
        waiters = self._waiters
        while waiters and self._pending < self._max_pending:
            waiter = waiters.popleft()
            if waiter.done():  # cancelled while waiting
                continue
            self._pending += 1
            if self._pending > self._peak_pending:
                self._peak_pending = self._pending
            waiter.set_result(None)
        drained = self._drained
        if drained is not None and not self._pending and not waiters and not drained.done():
            drained.set_result(None)

    # -- callbacks from the writer thread (run on the loop) -------------------------------------

    def _on_ready(self, error: StoreError | None) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(error)

    def _on_batch(
        self, batch: list[Op], results: list[object] | None, error: StoreError | None
    ) -> None:
        if error is not None and self._failure is None:
            self._failure = error
        slots = 0
        for i, (code, _payload, future, _at) in enumerate(batch):
            if code != BARRIER:
                slots += 1
            if future is None:
                if error is not None:
                    self._lost += 1
            elif not future.done():
                if error is not None:
                    failure = StoreError(str(error))
                    failure.__cause__ = error.__cause__
                    future.set_exception(failure)
                else:
                    future.set_result(results[i] if results is not None else None)
        self._release(slots)

    def _on_exit(self) -> None:
        writer = self._writer
        if writer is not None and writer.queue:
            # The thread ended with work queued (it crashed): fail that work rather than hang.
            error = self._failure or writer.failure or StoreError("event log writer stopped")
            leftovers = list(writer.queue)
            writer.queue.clear()
            self._on_batch(leftovers, None, error)
        if writer is not None and writer.failure is not None and self._failure is None:
            self._failure = writer.failure
        if self._exited is not None and not self._exited.done():
            self._exited.set_result(None)

    # -- reading --------------------------------------------------------------------------------

    async def _read(self, query: Callable[[sqlite3.Connection], T]) -> T:
        writer = self._check_open()
        loop = asyncio.get_running_loop()
        if not self._strict and self._pending:
            # Read-your-writes: wait until every acknowledged event is committed. A barrier
            # writes nothing and takes no back-pressure slot.
            await self._submit_and_wait(writer, BARRIER, None)
        return await loop.run_in_executor(self._reader_pool, self._run_query, query)

    def _run_query(self, query: Callable[[sqlite3.Connection], T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._reader_local, "conn", None)
        if conn is None:
            conn = open_reader(self.path)
            self._reader_local.conn = conn
        try:
            return query(conn)
        except sqlite3.Error as exc:
            raise StoreError(f"event log {self.path}: query failed: {exc}") from exc

    def _close_reader(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._reader_local, "conn", None)
        if conn is not None:
            conn.close()
            self._reader_local.conn = None

    async def tallies(self, experiment: str) -> dict[str, ModelTally]:
        """Requests, errors, fallbacks and scored/correct predictions per served model."""
        return await self._read(lambda conn: queries.tallies(conn, experiment))

    async def assignment_counts(self, experiment: str) -> dict[str, int]:
        """Requests per variant the router chose (before fallback), mirrors excluded: for SRM."""
        return await self._read(lambda conn: queries.assignment_counts(conn, experiment))

    async def find_inference(self, request_id: str) -> dict[str, object] | None:
        """The latest non-mirror inference with this id, with its feedback (or None)."""
        return await self._read(lambda conn: queries.find_inference(conn, request_id))
