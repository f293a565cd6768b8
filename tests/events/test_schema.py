from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from abgate.events import SQLiteEventLog, queries
from abgate.events.schema import APPLICATION_ID, SCHEMA_VERSION, _statements
from abgate.events.writer import _JOIN_FEEDBACK


@pytest.fixture
async def conn(db_path: Path) -> AsyncIterator[sqlite3.Connection]:
    async with SQLiteEventLog(db_path):
        pass
    connection = sqlite3.connect(db_path)
    yield connection
    connection.close()


def test_file_is_marked_versioned_and_in_wal_mode(conn: sqlite3.Connection) -> None:
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT seq, hash FROM chain_head").fetchone() == (0, "0" * 64)


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        (queries._REQUESTS, "inference_tally"),
        (queries._SCORES, "feedback_tally"),
        (queries._ASSIGNMENTS, "inference_assigned"),
    ],
)
def test_aggregates_are_covering_index_scans(
    conn: sqlite3.Connection, sql: str, index: str
) -> None:
    plan = " ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", ("exp",)))
    assert f"USING COVERING INDEX {index}" in plan
    assert "TEMP B-TREE" not in plan  # grouped in index order, no sort


@pytest.mark.parametrize("sql", [queries._FIND, _JOIN_FEEDBACK])
def test_lookups_use_the_request_index(conn: sqlite3.Connection, sql: str) -> None:
    params = ("r",) * sql.count("?")
    plan = " ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    assert "USING INDEX inference_request" in plan
    assert "INDEX feedback_inference (inference_seq=?)" in plan


def test_statement_splitter_respects_comments_and_strings() -> None:
    script = "-- a; comment\nCREATE TABLE t (x);\nINSERT INTO t VALUES ('a;b');\n"
    assert [s.strip() for s in _statements(script)] == [
        "-- a; comment\nCREATE TABLE t (x);",
        "INSERT INTO t VALUES ('a;b');",
    ]
