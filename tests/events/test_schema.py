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
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT seq, hash FROM chain_head").fetchone() == (0, "0" * 64)


def test_feedback_recount_is_a_covering_index_scan(conn: sqlite3.Connection) -> None:
    plan = " ".join(
        row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {queries._SCORES}", ("e",))
    )
    assert "USING COVERING INDEX feedback_tally" in plan
    assert "TEMP B-TREE" not in plan  # grouped in index order, no sort


def test_inference_has_only_the_request_index(conn: sqlite3.Connection) -> None:
    # Tallies come from the tally tables; every extra index would slow each write.
    names = {
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'inference'"
        )
    }
    assert names == {"inference_request"}


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


async def _fill(path: Path, n: int) -> None:
    import random

    from abgate.events.types import FeedbackItem, InferenceEvent

    rng = random.Random(3)
    async with SQLiteEventLog(path) as log:
        for i in range(n):
            model = rng.choice(["a", "b"])
            how = rng.choice(["split", "fallback", "mirror", "hash"])
            await log.record_inference(
                InferenceEvent(
                    ts=float(i),
                    request_id=f"r{i}",
                    experiment=rng.choice(["e", "f"]),
                    model=model,
                    version="1",
                    assigned_model=rng.choice(["a", "b"]),
                    assignment=how,
                    unit_hash=None,
                    input_sha256="x",
                    probability=rng.random(),
                    signal=None,
                    latency_ms=rng.random() * 10,
                    status=rng.choice([200, 200, 200, 503]),
                )
            )
        items = [
            FeedbackItem(f"r{i}", rng.choice([0, 1]), rng.choice([None, 0.01, -0.02]))
            for i in range(0, n, 2)
        ]
        for exp in ("e", "f"):
            await log.record_feedback(exp, items)


async def test_trigger_tallies_equal_a_recount(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    await _fill(path, 400)
    conn = sqlite3.connect(path)
    for exp in ("e", "f"):
        assert queries.tallies(conn, exp) == queries.recount_tallies(conn, exp)
        assert queries.assignment_counts(conn, exp) == queries.recount_assignments(conn, exp)
        rewards = conn.execute(
            "SELECT count(reward), sum(reward) FROM feedback WHERE experiment = ?", (exp,)
        ).fetchone()
        tallied = conn.execute(
            "SELECT sum(reward_n), sum(reward_sum) FROM tally_feedback WHERE experiment = ?",
            (exp,),
        ).fetchone()
        assert tallied[0] == rewards[0] and tallied[1] == pytest.approx(rewards[1])
    conn.close()


async def test_version_1_log_is_migrated_with_backfill(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    await _fill(path, 200)
    conn = sqlite3.connect(path)
    expected = queries.recount_tallies(conn, "e")
    # Turn it back into a version-1 file: no tally tables or triggers.
    for name in ("tally_inference", "tally_feedback_insert"):
        conn.execute(f"DROP TRIGGER {name}")
    for table in ("tally_served", "tally_assigned", "tally_feedback"):
        conn.execute(f"DROP TABLE {table}")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    async with SQLiteEventLog(path):
        pass
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert queries.tallies(conn, "e") == expected
    conn.close()


async def test_version_2_log_loses_the_redundant_indexes(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    await _fill(path, 50)
    conn = sqlite3.connect(path)
    expected = queries.tallies(conn, "e")
    conn.execute(
        "CREATE INDEX inference_tally ON inference (experiment, model, assignment, status)"
    )
    conn.execute("CREATE INDEX inference_assigned ON inference (experiment, assigned_model)")
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    async with SQLiteEventLog(path):
        pass
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert not indexes & {"inference_tally", "inference_assigned"}
    assert queries.tallies(conn, "e") == expected == queries.recount_tallies(conn, "e")
    conn.close()
