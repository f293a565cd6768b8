"""The hash chain that makes the event log tamper-evident, and its verifier.

Every row (inference, feedback or admin) is one link::

    hash = sha256(prev_hash_hex_ascii || canonical_json(row))

where ``canonical_json`` is the row's stored fields plus ``"event"`` (the table) and ``"seq"``,
serialised by orjson with sorted keys and no whitespace: UTF-8, floats in shortest round-trip
form. orjson is the reference encoder; it agrees with ``json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`` except for some floats below 1e-4 (``0.00001`` where
``json`` writes ``1e-05``, for instance). The first row's ``prev_hash`` is 64 zeros;
``chain_head`` holds the last ``seq`` and hash.

The chain detects a modified, deleted, inserted or reordered row and a truncated tail. Like any
chain without an external anchor it cannot detect a rewrite of the whole tail by someone who also
recomputes every later hash: publish ``ChainReport.head_hash`` somewhere else (a report, a ticket)
to close that gap.
"""

from __future__ import annotations

import hashlib
import heapq
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from abgate.errors import StoreError
from abgate.events.schema import FIELDS, GENESIS_HASH, EventKind, open_reader


def canonical_json(
    event: EventKind, seq: int, fields: tuple[str, ...], values: Sequence[object]
) -> bytes:
    """The bytes that are hashed for one row (``values`` in the order of ``fields``)."""
    record = dict(zip(fields, values, strict=True))
    record["event"] = event
    record["seq"] = seq
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def link(prev_hash: str, body: bytes) -> str:
    """The hash of a row whose predecessor has ``prev_hash``."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(body)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Outcome of ``verify_chain``; ``events`` counts the rows verified before any problem."""

    ok: bool
    events: int
    first_bad_seq: int | None = None
    problem: str | None = None
    head_hash: str | None = None
    """Hash of the last verified row: publish it to anchor the chain."""


Row = tuple[int, EventKind, tuple[object, ...], object, object]  # seq, event, values, prev, hash


def _rows(conn: sqlite3.Connection, event: EventKind) -> Iterator[Row]:
    fields = FIELDS[event]
    sql = f"SELECT seq, {', '.join(fields)}, prev_hash, hash FROM {event} ORDER BY seq"
    for row in conn.execute(sql):
        yield row[0], event, tuple(row[1:-2]), row[-2], row[-1]


def merged_rows(conn: sqlite3.Connection, events: Sequence[EventKind]) -> Iterator[Row]:
    """Rows of the given tables in ``seq`` order (call inside one read transaction)."""
    return heapq.merge(*(_rows(conn, event) for event in events), key=lambda row: row[0])


def verify_chain(path: str | Path) -> ChainReport:
    """Recompute the whole chain of the log at ``path`` and report the first break.

    Safe to run while a gateway writes to the log: it reads one consistent snapshot.
    """
    conn = open_reader(path)
    try:
        conn.execute("BEGIN")  # one snapshot for the head and all three tables
        head_seq, head_hash = conn.execute("SELECT seq, hash FROM chain_head").fetchone()
        return _verify(merged_rows(conn, ("inference", "feedback", "admin")), head_seq, head_hash)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot verify event log {path}: {exc}") from exc
    finally:
        conn.close()


def _verify(rows: Iterator[Row], head_seq: object, head_hash: object) -> ChainReport:
    expected_seq = 1
    running = GENESIS_HASH
    good = 0

    def broken(seq: int, problem: str) -> ChainReport:
        return ChainReport(False, good, seq, problem, running if good else None)

    for seq, event, values, prev_hash, stored_hash in rows:
        if seq < 1:
            return broken(seq, f"seq {seq} ({event}) is not a valid sequence number")
        if seq < expected_seq:
            return broken(seq, f"seq {seq} appears twice (second time in {event})")
        if isinstance(head_seq, int) and seq > head_seq:
            return broken(seq, f"seq {seq} ({event}) is past the chain head (seq {head_seq})")
        if seq > expected_seq:
            missing = (
                f"seq {expected_seq} is missing"
                if seq == expected_seq + 1
                else f"seqs {expected_seq}..{seq - 1} are missing"
            )
            return broken(expected_seq, f"{missing} (row deleted)")
        if prev_hash != running:
            return broken(seq, f"seq {seq} ({event}): prev_hash does not continue the chain")
        try:
            actual = link(running, canonical_json(event, seq, FIELDS[event], values))
        except (TypeError, ValueError) as exc:  # orjson.JSONEncodeError is a TypeError
            return broken(seq, f"seq {seq} ({event}): unreadable row ({exc})")
        if actual != stored_hash:
            return broken(seq, f"seq {seq} ({event}): contents do not match its hash (modified)")
        running = actual
        good += 1
        expected_seq += 1
    if head_seq != good:
        return broken(good + 1, f"rows after seq {good} are missing (chain head is seq {head_seq})")
    if head_hash != running:
        return broken(good, f"chain head hash does not match seq {good}")
    return ChainReport(True, good, None, None, running)
