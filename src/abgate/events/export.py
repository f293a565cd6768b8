"""Export the event log as JSON Lines or CSV (backs ``abgate events export``).

Rows come out in ``seq`` order from one consistent snapshot, with their ``prev_hash`` and
``hash``, so an export can be checked against the chain. Admin payloads stay the exact JSON text
that was hashed. With ``kind="all"`` each row says which table it came from in ``event``; CSV then
uses the union of the columns and leaves the others empty.
"""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Final, Literal, TextIO, get_args

import orjson

from abgate.errors import StoreError
from abgate.events.chain import merged_rows
from abgate.events.schema import FIELDS, EventKind, open_reader

ExportFormat = Literal["jsonl", "csv"]
ExportKind = Literal["inference", "feedback", "admin", "all"]
_ALL_KINDS: Final[tuple[EventKind, ...]] = ("inference", "feedback", "admin")


def columns(kind: ExportKind) -> tuple[str, ...]:
    """The columns of an export of ``kind``, in order."""
    if kind != "all":
        return ("seq", *FIELDS[kind], "prev_hash", "hash")
    union: dict[str, None] = {}
    for event in _ALL_KINDS:
        union.update(dict.fromkeys(FIELDS[event]))
    return ("event", "seq", *union, "prev_hash", "hash")


def export_events(
    db_path: str | Path,
    fmt: ExportFormat,
    out: TextIO,
    kind: ExportKind = "inference",
) -> int:
    """Write the events of ``kind`` to ``out``; return how many rows were written."""
    if fmt not in get_args(ExportFormat):
        raise ValueError(f"fmt must be one of {get_args(ExportFormat)}, got {fmt!r}")
    if kind not in get_args(ExportKind):
        raise ValueError(f"kind must be one of {get_args(ExportKind)}, got {kind!r}")
    events = _ALL_KINDS if kind == "all" else (kind,)
    header = columns(kind)
    writer = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
    if writer is not None:
        writer.writerow(header)
    conn = open_reader(db_path)
    count = 0
    try:
        conn.execute("BEGIN")  # one snapshot across the tables
        for seq, event, values, prev_hash, hash_ in merged_rows(conn, events):
            record: dict[str, object] = {"event": event} if kind == "all" else {}
            record["seq"] = seq
            record.update(zip(FIELDS[event], values, strict=True))
            record["prev_hash"] = prev_hash
            record["hash"] = hash_
            if writer is None:
                out.write(orjson.dumps(record).decode())
                out.write("\n")
            else:
                writer.writerow([record.get(name) for name in header])
            count += 1
    except sqlite3.Error as exc:
        raise StoreError(f"cannot export event log {db_path}: {exc}") from exc
    finally:
        conn.close()
    return count
