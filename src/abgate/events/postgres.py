"""``PostgresEventLog``: the event log in PostgreSQL, for several gateway replicas sharing one log.

Same semantics as :class:`~abgate.events.sqlite.SQLiteEventLog`, from the same code: the
event-loop side (bounded queue with back-pressure, strict callers nudging their batch closed,
relaxed read-your-writes barriers, sticky failures, lossless ``close()``) is inherited, and the
writer thread (:class:`~abgate.events.pg_writer.PgWriter`) batches exactly like the SQLite one.
What differs is the database:

- ``strict`` (and ``fsync``, the same thing here) commits with ``synchronous_commit = on``: the
  server has flushed its WAL before the reply; ``relaxed`` with ``off``: a server crash can lose
  the last few hundred milliseconds of commits, a clean ``close()`` loses nothing.
- Any number of processes may write: each batch locks the chain head row, so the hash chain
  stays one chain and ``seq`` has no gaps (``verify_postgres_chain`` checks it).
- A lost connection is re-established (writer: with retries and without writing a batch twice;
  reader: once per query) before it becomes a failure.
- Feedback sent to one replica joins inferences recorded by any replica once those are committed.
  In strict mode that is before the client saw the prediction; in relaxed mode feedback that
  races a replica's commit (``max_delay_s``) is reported as ``unknown``.
- Tallies are kept by statement-level triggers; the read queries are the SQLite log's own
  (:mod:`abgate.events.queries`, :mod:`abgate.events.summaries`), run through a small adapter
  that turns their ``?`` parameters into psycopg's ``%s`` and drops SQLite's index hints.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import psycopg

from abgate.errors import StoreError
from abgate.events.chain import ChainReport, Row, _verify
from abgate.events.pg_schema import open_reader, redact
from abgate.events.pg_writer import PgWriter
from abgate.events.schema import FIELDS, EventKind
from abgate.events.sqlite import SQLiteEventLog

if TYPE_CHECKING:
    from abgate.events.summaries import ExperimentData

T = TypeVar("T")
Connection = psycopg.Connection[tuple[Any, ...]]


# SQLite's "+column" (a unary plus that keeps the planner off an index): no-op in meaning, but
# PostgreSQL has no unary plus for text. A binary plus always has a space after it in our SQL.
_INDEX_HINT = re.compile(r"(?<=[\s(,=])\+(?=[A-Za-z_])")


def to_postgres(sql: str) -> str:
    """The SQLite read queries in PostgreSQL's dialect: ``?`` → ``%s``, index hints dropped.

    Enough for the queries of :mod:`abgate.events.queries` and :mod:`abgate.events.summaries`
    (no literal ``?`` in them); the PostgreSQL tests run all of them.
    """
    return _INDEX_HINT.sub("", sql.replace("%", "%%")).replace("?", "%s")


class QmarkConnection:
    """The part of ``sqlite3.Connection`` the read queries use — ``execute(sql, params)``, then
    iterate or fetch — over a psycopg connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[object] = ()) -> psycopg.Cursor[tuple[Any, ...]]:
        return self._conn.execute(to_postgres(sql).encode(), tuple(params))


def as_sqlite(conn: Connection) -> sqlite3.Connection:
    """``conn`` seen through :class:`QmarkConnection`, typed for the SQLite query functions."""
    return cast(sqlite3.Connection, QmarkConnection(conn))


class PostgresEventLog(SQLiteEventLog):
    """The event log in a PostgreSQL database; satisfies ``EventStore``. Use from one event loop.

    A subclass so that the delicate event-loop half (slots, nudges, barriers, close) exists
    once; it overrides only what touches a connection: ``start`` (its writer), ``_run_query``
    and ``_close_reader``.

    ``url`` is a libpq URI (``postgresql://user:password@host:5432/db``); add
    ``?options=-csearch_path%3Dname`` to keep the log in its own schema.
    """

    def __init__(
        self,
        url: str,
        *,
        durability: Literal["fsync", "strict", "relaxed"] = "strict",
        batch_max: int = 512,
        max_delay_s: float = 0.002,
        max_pending: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
            raise ValueError(f"PostgresEventLog needs a postgresql:// URL, got {url!r}")
        # ``path`` only names the log in the inherited messages: never show a password.
        super().__init__(
            redact(url),
            durability=durability,
            batch_max=batch_max,
            max_delay_s=max_delay_s,
            max_pending=max_pending,
            clock=clock,
        )
        self.url = url
        self.location = redact(url)

    def _make_writer(self, loop: asyncio.AbstractEventLoop) -> PgWriter:
        """Connect, create or migrate the schema (in the writer thread) as the writer."""
        return PgWriter(
            self.url,
            synchronous_commit=self._strict,
            batch_max=self._batch_max,
            max_delay_s=self._max_delay,
            loop=loop,
            on_ready=self._on_ready,
            on_batch=self._on_batch,
            on_exit=self._on_exit,
        )

    def _run_query(self, query: Callable[[sqlite3.Connection], T]) -> T:
        for retry in (True, False):  # a lost connection is re-opened once
            conn: Connection | None = getattr(self._reader_local, "conn", None)
            if conn is None:
                conn = open_reader(self.url)
                self._reader_local.conn = conn
            try:
                with conn.transaction():
                    return query(as_sqlite(conn))
            except psycopg.OperationalError as exc:
                self._close_reader()
                if not retry:
                    raise StoreError(f"event log {self.location}: query failed: {exc}") from exc
            except psycopg.Error as exc:
                raise StoreError(f"event log {self.location}: query failed: {exc}") from exc
        raise AssertionError("unreachable")

    def _close_reader(self) -> None:
        conn: Connection | None = getattr(self._reader_local, "conn", None)
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()
            self._reader_local.conn = None


# -- offline reads (analysis, verification), each on its own connection -----------------------


def _read(url: str, what: str, read: Callable[[Connection], T]) -> T:
    conn = open_reader(url)
    try:
        with conn.transaction():  # repeatable read: one snapshot for every statement
            return read(conn)
    except psycopg.Error as exc:
        raise StoreError(f"cannot {what} event log {redact(url)}: {exc}") from exc
    finally:
        conn.close()


def list_experiments(url: str) -> list[str]:
    """Experiments with traffic in the log, sorted."""
    sql = "SELECT experiment FROM tally_assigned UNION SELECT experiment FROM tally_served"
    rows = _read(url, "read", lambda conn: conn.execute(sql).fetchall())
    return sorted(str(r[0]) for r in rows)


def load_experiment(url: str, experiment: str, *, latency_sample: int = 5_000) -> ExperimentData:
    """:func:`abgate.events.summaries.load_experiment` for a PostgreSQL log (the same queries)."""
    from abgate.events import summaries  # the statistics engine is heavy: only for analysis

    return _read(
        url,
        "read",
        lambda conn: summaries._load(as_sqlite(conn), experiment, latency_sample),
    )


def _rows(conn: Connection, event: EventKind) -> Iterator[Row]:
    fields = FIELDS[event]
    sql = f"SELECT seq, {', '.join(fields)}, prev_hash, hash FROM {event} ORDER BY seq"
    # A server-side cursor: the log may hold millions of rows.
    with conn.cursor(name=f"abgate_verify_{event}") as cur:
        cur.itersize = 5_000
        cur.execute(sql.encode())
        for row in cur:
            yield row[0], event, tuple(row[1:-2]), row[-2], row[-1]


def verify_postgres_chain(url: str) -> ChainReport:
    """:func:`abgate.events.chain.verify_chain` for a PostgreSQL log (one consistent snapshot)."""

    def verify(conn: Connection) -> ChainReport:
        head = conn.execute("SELECT seq, hash FROM chain_head WHERE id = 1").fetchone()
        if head is None:
            return ChainReport(False, 0, None, "chain_head is empty")
        events: tuple[EventKind, ...] = ("inference", "feedback", "admin")
        rows = heapq.merge(*(_rows(conn, e) for e in events), key=lambda row: row[0])
        return _verify(rows, head[0], head[1])

    return _read(url, "verify", verify)
