"""The writer thread of the PostgreSQL event log: the SQLite writer's batching, another database.

Batching, nudges, shutdown and the hand-back of results to the event loop are inherited from
:class:`abgate.events.writer.Writer` unchanged; only the connection and the transaction differ.

One batch is one transaction::

    SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE   -- serialises all writers
    COPY inference / admin / feedback rows, linked to that head  -- triggers update the tallies
    UPDATE chain_head

The row lock on the chain head is what keeps one unbroken chain when several gateway processes
write to the same database: a second writer blocks on it until the first commits, then (read
committed) reads the new head. A feedback operation first writes the inferences queued before it
in the same batch, then joins all its items in one query, so it sees every inference recorded
before it, by this process in queue order and by any other process once that one committed.

A lost connection (a database restart or failover, a network blip) is retried: reconnect, find
out whether the interrupted batch committed, write it again only if it did not. Other errors,
and a connection still lost after ``RECONNECT_DELAYS_S``, are a sticky write failure as in SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

import psycopg

from abgate.errors import StoreError
from abgate.events.chain import canonical_json, link
from abgate.events.pg_schema import open_writer, redact
from abgate.events.schema import ADMIN_FIELDS, FEEDBACK_FIELDS, INFERENCE_FIELDS
from abgate.events.types import FeedbackResult
from abgate.events.writer import (
    ADMIN,
    FEEDBACK,
    INFERENCE,
    BatchDone,
    Op,
    Writer,
    inference_values,
    join_feedback,
)

Cursor = psycopg.Cursor[tuple[Any, ...]]
Connection = psycopg.Connection[tuple[Any, ...]]


def _copy_sql(table: str, fields: tuple[str, ...]) -> bytes:
    columns = ", ".join(("seq", *fields, "prev_hash", "hash"))
    return f"COPY {table} ({columns}) FROM STDIN".encode()


RECONNECT_DELAYS_S: Final = (0.1, 0.5, 1.0, 2.0, 4.0)
"""Waits before each reconnection attempt; after the last, the failure is final (sticky)."""

_COPY_INFERENCE: Final = _copy_sql("inference", INFERENCE_FIELDS)
_COPY_FEEDBACK: Final = _copy_sql("feedback", FEEDBACK_FIELDS)
_COPY_ADMIN: Final = _copy_sql("admin", ADMIN_FIELDS)

# For each request id: the latest non-mirror inference in the experiment, and its feedback if any.
_JOIN_FEEDBACK: Final = b"""
SELECT DISTINCT ON (i.request_id) i.request_id, i.seq, i.model, i.probability, f.seq
FROM inference AS i LEFT JOIN feedback AS f ON f.inference_seq = i.seq
WHERE i.request_id = ANY(%s) AND i.experiment = %s AND i.assignment <> 'mirror'
ORDER BY i.request_id, i.seq DESC
"""


def _copy(cur: Cursor, sql: bytes, rows: Sequence[Sequence[object]]) -> None:
    with cur.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


class PgWriter(Writer):
    """Owns the PostgreSQL write connection and its thread."""

    def __init__(
        self,
        url: str,
        *,
        synchronous_commit: bool,
        batch_max: int,
        max_delay_s: float,
        loop: asyncio.AbstractEventLoop,
        on_ready: Callable[[StoreError | None], None],
        on_batch: BatchDone,
        on_exit: Callable[[], None],
    ) -> None:
        super().__init__(
            Path(redact(url)),
            synchronous="FULL" if synchronous_commit else "NORMAL",
            batch_max=batch_max,
            max_delay_s=max_delay_s,
            loop=loop,
            on_ready=on_ready,
            on_batch=on_batch,
            on_exit=on_exit,
        )
        self._url = url
        self._where = redact(url)
        self._synchronous_commit = synchronous_commit
        self._conn: Connection | None = None
        # (table, seq, hash of its last row, results, rows) of the batch whose COMMIT was sent
        # last; reset when a batch starts, so it only ever describes the batch being written.
        self._in_flight: tuple[str, int, str, list[object], int] | None = None
        self.reconnects = 0
        """Connections re-established after being lost (tests, diagnostics)."""

    def _open(self) -> None:
        self._conn = open_writer(self._url, synchronous_commit=self._synchronous_commit)

    def _write_batch_now(self, batch: list[Op]) -> list[object]:
        return self._write_reconnecting(batch)

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()

    def _write_reconnecting(self, batch: list[Op]) -> list[object]:
        """Write ``batch``; on a lost connection, reconnect and retry, never writing it twice.

        A connection lost while COMMIT was in flight leaves the outcome unknown: after
        reconnecting, the batch's last row is looked up by ``seq`` and hash, and the batch is
        written again only if it is not there.
        """
        for delay in (*RECONNECT_DELAYS_S, None):
            try:
                if self._conn is None:
                    self._conn = open_writer(self._url, synchronous_commit=self._synchronous_commit)
                    if self._in_flight is not None and self._committed(self._conn):
                        results = self._in_flight[3]
                        self._count(batch, self._in_flight[4])
                        return results
                return self._write_batch(self._conn, batch)
            except (psycopg.OperationalError, StoreError) as exc:
                lost = isinstance(exc, psycopg.OperationalError) or isinstance(
                    exc.__cause__, psycopg.OperationalError
                )
                if delay is None or not lost:
                    raise
                if self._conn is not None:
                    with contextlib.suppress(psycopg.Error):
                        self._conn.close()
                self._conn = None
                self.reconnects += 1
                time.sleep(delay)
        raise AssertionError("unreachable")

    def _committed(self, conn: Connection) -> bool:
        assert self._in_flight is not None
        table, seq, hash_, _results, _rows = self._in_flight
        row = conn.execute(f"SELECT hash FROM {table} WHERE seq = %s".encode(), (seq,)).fetchone()
        return row is not None and row[0] == hash_

    def _count(self, batch: list[Op], rows: int) -> None:
        self.batches += 1
        self.rows += rows
        self.largest_batch = max(self.largest_batch, len(batch))

    def _write_batch(self, conn: Connection, batch: list[Op]) -> list[object]:
        self._in_flight = None
        results: list[object] = [None] * len(batch)
        if all(code not in (INFERENCE, ADMIN, FEEDBACK) for code, *_ in batch):
            return results  # only barriers: everything before them is already committed
        with conn.transaction(), conn.cursor() as cur:
            row = cur.execute("SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE").fetchone()
            if row is None:
                raise StoreError("chain_head is empty")
            first_seq: int = row[0]
            head: str = row[1]
            seq = first_seq
            last_table = "inference"
            inference_rows: list[tuple[object, ...]] = []
            admin_rows: list[tuple[object, ...]] = []
            for i, (code, payload, _future, _at) in enumerate(batch):
                if code == INFERENCE:
                    seq += 1
                    last_table = "inference"
                    values = inference_values(payload)
                    prev = head
                    head = link(prev, canonical_json("inference", seq, INFERENCE_FIELDS, values))
                    inference_rows.append((seq, *values, prev, head))
                elif code == ADMIN:
                    seq += 1
                    last_table = "admin"
                    event, payload_json = payload
                    values = (float(event.ts), event.kind, event.experiment, payload_json)
                    prev = head
                    head = link(prev, canonical_json("admin", seq, ADMIN_FIELDS, values))
                    admin_rows.append((seq, *values, prev, head))
                elif code == FEEDBACK:
                    # The join must see every inference queued before this feedback.
                    if inference_rows:
                        _copy(cur, _COPY_INFERENCE, inference_rows)
                        inference_rows.clear()
                    before = seq
                    seq, head, results[i] = self._join_feedback(cur, seq, head, payload)
                    if seq != before:
                        last_table = "feedback"
            if inference_rows:
                _copy(cur, _COPY_INFERENCE, inference_rows)
            if admin_rows:
                _copy(cur, _COPY_ADMIN, admin_rows)
            if seq != first_seq:
                cur.execute("UPDATE chain_head SET seq = %s, hash = %s WHERE id = 1", (seq, head))
                # Leaving the block commits: remember what to look for if that is interrupted.
                self._in_flight = (last_table, seq, head, results, seq - first_seq)
        self._count(batch, seq - first_seq)
        return results

    @staticmethod
    def _join_feedback(
        cur: Cursor, seq: int, head: str, payload: Any
    ) -> tuple[int, str, FeedbackResult]:
        experiment, _ts, items, valid = payload
        # One round trip for the whole call instead of one per item.
        ids = sorted({item.request_id for item, ok in zip(items, valid, strict=True) if ok})
        hits = {r[0]: r[1:] for r in cur.execute(_JOIN_FEEDBACK, (ids, experiment)).fetchall()}
        rows, seq, head, result = join_feedback(payload, hits.get, seq, head)
        if rows:
            _copy(cur, _COPY_FEEDBACK, rows)
        return seq, head, result
