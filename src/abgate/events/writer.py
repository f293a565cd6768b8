"""The writer thread: the only owner of the log's write connection.

The event loop hands it operations through a deque (``submit``); the thread groups them into
batches and writes each batch in one transaction (group commit), then hands the batch back to the
loop with ``call_soon_threadsafe`` so the loop can resolve its futures. A batch closes when it holds
``batch_max`` operations, when its oldest operation has waited ``max_delay_s``, or early when the
loop ``nudge``s: a caller is waiting for the commit and the loop has run every task that was ready,
so waiting longer would only add latency (with N strict callers, each commit carries about N events
and the fsync itself is the batching window).

Waking the thread costs a lock, so producers only signal it when the queue reaches the threshold
the thread is waiting for (1 when idle, ``batch_max`` while a batch fills, never while it writes);
the thread re-checks the queue after publishing a threshold, so no wake-up is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, Literal

from abgate.errors import StoreError
from abgate.events.chain import canonical_json, link
from abgate.events.checkpoint import Checkpointer
from abgate.events.schema import ADMIN_FIELDS, FEEDBACK_FIELDS, INFERENCE_FIELDS, open_writer
from abgate.events.types import FeedbackItem, FeedbackResult, InferenceEvent

# Operation codes. An operation is (code, payload, future or None, time.monotonic() at submit).
INFERENCE: Final = 0
ADMIN: Final = 1
FEEDBACK: Final = 2
BARRIER: Final = 3  # no row: resolves once everything submitted before it is committed

Op = tuple[int, Any, "asyncio.Future[Any] | None", float]
BatchDone = Callable[[list[Op], list[object] | None, StoreError | None], None]

_NEVER: Final = sys.maxsize


def _insert_sql(table: str, fields: tuple[str, ...]) -> str:
    columns = ("seq", *fields, "prev_hash", "hash")
    marks = ", ".join("?" * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


_INSERT_INFERENCE: Final = _insert_sql("inference", INFERENCE_FIELDS)
_INSERT_FEEDBACK: Final = _insert_sql("feedback", FEEDBACK_FIELDS)
_INSERT_ADMIN: Final = _insert_sql("admin", ADMIN_FIELDS)

# The prediction a feedback item scores: the latest non-mirror inference with that id in the
# experiment, and whether it already has ground truth.
_JOIN_FEEDBACK: Final = """
SELECT i.seq, i.model, i.probability, f.seq
FROM inference AS i LEFT JOIN feedback AS f ON f.inference_seq = i.seq
WHERE i.request_id = ? AND i.experiment = ? AND i.assignment != 'mirror'
ORDER BY i.seq DESC LIMIT 1
"""


def _opt_float(value: float | None) -> float | None:
    return None if value is None else float(value)


def inference_values(e: InferenceEvent) -> tuple[object, ...]:
    """Row values in ``INFERENCE_FIELDS`` order, typed as SQLite will return them."""
    return (
        float(e.ts),
        e.request_id,
        e.experiment,
        e.model,
        e.version,
        e.assigned_model,
        e.assignment,
        e.unit_hash,
        e.input_sha256,
        _opt_float(e.probability),
        e.signal,
        float(e.latency_ms),
        e.status,
        e.error,
        e.fallback_reason,
        _opt_float(e.propensity),
    )


class Writer:
    """Owns the write connection and its thread; see the module docstring."""

    def __init__(
        self,
        path: Path,
        *,
        synchronous: Literal["FULL", "NORMAL"],
        batch_max: int,
        max_delay_s: float,
        loop: asyncio.AbstractEventLoop,
        on_ready: Callable[[StoreError | None], None],
        on_batch: BatchDone,
        on_exit: Callable[[], None],
    ) -> None:
        self._path = path
        self._where = str(path)  # how errors name the log (a URL store redacts its password)
        self._conn: Any = None  # owned by the writer thread, between _open and _close
        self._checkpointer: Checkpointer | None = None
        self._lock_fd: int | None = None
        self._synchronous: Literal["FULL", "NORMAL"] = synchronous
        self._batch_max = batch_max
        self._max_delay = max_delay_s
        self._loop = loop
        self._on_ready = on_ready
        self._on_batch = on_batch
        self._on_exit = on_exit
        self.queue: deque[Op] = deque()
        self._wake = threading.Event()
        self._threshold = _NEVER
        self._stopping = False  # exit once the queue is empty
        self._hurry = False  # close batches without waiting for max_delay (shutdown)
        self._nudged = False  # close the filling batch now (see the module docstring)
        self.failure: StoreError | None = None
        self.batches = 0
        self.rows = 0
        self.largest_batch = 0
        self._thread = threading.Thread(target=self._run, name="abgate-events-writer", daemon=True)

    # -- called from the event loop -------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def submit(self, op: Op) -> None:
        queue = self.queue
        queue.append(op)
        if len(queue) >= self._threshold:
            self._wake.set()

    def nudge(self) -> None:
        """Close the batch that is filling: someone waits for it and nothing more is coming."""
        self._nudged = True
        self._wake.set()

    def hurry(self) -> None:
        """Stop waiting for batches to fill: shutdown has begun, write everything now."""
        self._hurry = True
        self._wake.set()

    def stop(self) -> None:
        """Write whatever is queued, then end the thread (``on_exit`` runs on the loop)."""
        self._hurry = True
        self._stopping = True
        self._wake.set()

    # -- the thread -----------------------------------------------------------------------------

    def _post(self, callback: Callable[..., None], *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is left to tell
            self._loop.call_soon_threadsafe(callback, *args)

    # Each wait publishes its threshold, then re-checks its condition before sleeping.

    def _wait_for_work(self) -> None:
        self._wake.clear()
        self._threshold = 1
        if not self.queue and not self._stopping:
            self._wake.wait()
        self._threshold = _NEVER

    def _wait_for_batch(self, timeout: float) -> None:
        self._wake.clear()
        self._threshold = self._batch_max
        if len(self.queue) < self._batch_max and not (self._hurry or self._nudged):
            self._wake.wait(timeout)
        self._threshold = _NEVER

    def _next_batch(self) -> list[Op] | None:
        queue = self.queue
        while not queue:
            if self._stopping:
                return None
            self._wait_for_work()
        if len(queue) < self._batch_max and not (self._hurry or self._nudged):
            remaining = queue[0][3] + self._max_delay - time.monotonic()
            if remaining > 0:
                self._wait_for_batch(remaining)
        batch = [queue.popleft() for _ in range(min(len(queue), self._batch_max))]
        # A nudge that lands between the pop and this reset is lost; the next waiting caller
        # nudges again, and max_delay bounds the wait in any case.
        self._nudged = False
        return batch

    # The three hooks a store overrides; the loop in _run is shared by every store.
    def _open(self) -> None:
        self._conn = open_writer(self._path, synchronous=self._synchronous)
        # Checkpoints run on their own thread, never inside a commit (see events.checkpoint).
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")
        self._checkpointer = Checkpointer(self._path)
        self._checkpointer.start()
        self._lock_fd = os.open(self._path, os.O_RDONLY)

    def _write_batch_now(self, batch: list[Op]) -> list[object]:
        # Several processes may write this log (gateway workers): a blocking flock hands the
        # file over the moment the other writer commits, where SQLite's own busy handler would
        # sleep and poll (milliseconds at the 99th percentile). Uncontended it is two syscalls.
        fd = self._lock_fd
        assert fd is not None
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            return self._write(self._conn, batch)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()

    def _run(self) -> None:
        try:
            self._open()
        except StoreError as exc:
            self._post(self._on_ready, exc)
            self._post(self._on_exit)
            return
        except BaseException as exc:
            self._post(self._on_ready, StoreError(f"cannot open event log {self._where}: {exc!r}"))
            self._post(self._on_exit)
            return
        self._post(self._on_ready, None)
        try:
            while (batch := self._next_batch()) is not None:
                results: list[object] | None = None
                if self.failure is None:
                    try:
                        results = self._write_batch_now(batch)
                    except Exception as exc:
                        self.failure = StoreError(f"event log {self._where}: write failed: {exc}")
                        self.failure.__cause__ = exc
                self._post(self._on_batch, batch, results, self.failure)
        except BaseException as exc:  # a bug in this thread must not leave callers hanging
            if self.failure is None:
                self.failure = StoreError(f"event log writer crashed: {exc!r}")
                self.failure.__cause__ = exc
        finally:
            self._close()
            self._post(self._on_exit)

    def _write(self, conn: sqlite3.Connection, batch: list[Op]) -> list[object]:
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            # Read the head under the write lock: correct even if another process shares the file.
            first_seq, head = cur.execute("SELECT seq, hash FROM chain_head").fetchone()
            seq: int = first_seq
            inference_rows: list[tuple[object, ...]] = []
            admin_rows: list[tuple[object, ...]] = []
            results: list[object] = [None] * len(batch)
            for i, (code, payload, _future, _at) in enumerate(batch):
                if code == INFERENCE:
                    seq += 1
                    values = inference_values(payload)
                    prev = head
                    head = link(prev, canonical_json("inference", seq, INFERENCE_FIELDS, values))
                    inference_rows.append((seq, *values, prev, head))
                elif code == ADMIN:
                    seq += 1
                    event, payload_json = payload
                    values = (float(event.ts), event.kind, event.experiment, payload_json)
                    prev = head
                    head = link(prev, canonical_json("admin", seq, ADMIN_FIELDS, values))
                    admin_rows.append((seq, *values, prev, head))
                elif code == FEEDBACK:
                    # The join must see every inference queued before this feedback.
                    if inference_rows:
                        cur.executemany(_INSERT_INFERENCE, inference_rows)
                        inference_rows.clear()
                    seq, head, results[i] = self._feedback(cur, seq, head, payload)
            if inference_rows:
                cur.executemany(_INSERT_INFERENCE, inference_rows)
            if admin_rows:
                cur.executemany(_INSERT_ADMIN, admin_rows)
            if seq != first_seq:
                cur.execute("UPDATE chain_head SET seq = ?, hash = ?", (seq, head))
            cur.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise
        self.batches += 1
        self.rows += seq - first_seq
        self.largest_batch = max(self.largest_batch, len(batch))
        return results

    @staticmethod
    def _feedback(
        cur: sqlite3.Cursor, seq: int, head: str, payload: Any
    ) -> tuple[int, str, FeedbackResult]:
        experiment = payload[0]

        def lookup(request_id: str) -> tuple[Any, ...] | None:
            hit: tuple[Any, ...] | None = cur.execute(
                _JOIN_FEEDBACK, (request_id, experiment)
            ).fetchone()
            return hit

        rows, seq, head, result = join_feedback(payload, lookup, seq, head)
        if rows:
            cur.executemany(_INSERT_FEEDBACK, rows)
        return seq, head, result


def join_feedback(
    payload: Any,
    lookup: Callable[[str], tuple[Any, ...] | None],
    seq: int,
    head: str,
) -> tuple[list[tuple[object, ...]], int, str, FeedbackResult]:
    """Chained feedback rows for ``payload`` = (experiment, ts, items, valid), whatever store.

    ``lookup(request_id)`` returns (inference_seq, model, probability, feedback_seq) of the
    prediction to score, or None. Every item lands in exactly one place of the result.
    """
    experiment: str
    ts: float
    items: tuple[FeedbackItem, ...]
    valid: tuple[bool, ...]
    experiment, ts, items, valid = payload
    unknown: list[str] = []
    duplicate: list[str] = []
    invalid: list[str] = []
    scored: set[int] = set()
    rows: list[tuple[object, ...]] = []
    per_model: dict[str, tuple[int, int]] = {}
    for item, ok in zip(items, valid, strict=True):
        if not ok:
            invalid.append(str(item.request_id))
            continue
        hit = lookup(item.request_id)
        if hit is None:
            unknown.append(item.request_id)
            continue
        inference_seq, model, probability, feedback_seq = hit
        if feedback_seq is not None or inference_seq in scored:
            duplicate.append(item.request_id)
            continue
        scored.add(inference_seq)
        truth = int(item.truth)
        correct = None if probability is None else int((probability > 0.5) == (truth == 1))
        if correct is not None:
            right, wrong = per_model.get(model, (0, 0))
            per_model[model] = (right + correct, wrong + 1 - correct)
        reward = _opt_float(item.reward)
        values = (ts, experiment, item.request_id, inference_seq, model, truth, reward, correct)
        seq += 1
        prev = head
        head = link(prev, canonical_json("feedback", seq, FEEDBACK_FIELDS, values))
        rows.append((seq, *values, prev, head))
    by_model = tuple((m, right, wrong) for m, (right, wrong) in sorted(per_model.items()))
    result = FeedbackResult(len(rows), tuple(unknown), tuple(duplicate), tuple(invalid), by_model)
    return rows, seq, head, result
