from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from abgate.errors import StoreError
from abgate.events import AdminEvent, FeedbackItem, SQLiteEventLog, verify_chain
from abgate.events.chain import canonical_json, link
from abgate.events.schema import GENESIS_HASH, INFERENCE_FIELDS

from .conftest import inference


async def _fill(path: Path) -> None:
    """Eight events, seq 1-8: inference 1-5, admin 6, feedback 7-8."""
    async with SQLiteEventLog(path) as log:
        for i in range(5):
            await log.record_inference(inference(f"r{i}", probability=0.1 * (i + 1)))
        await log.record_admin(AdminEvent(5.0, "weight_change", "exp", {"baseline": 70}))
        await log.record_feedback("exp", [FeedbackItem("r1", 1), FeedbackItem("r4", 0, 2.5)])


def _tamper(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    with conn:
        for statement in statements:
            conn.execute(statement)
    conn.close()


@pytest.fixture
async def log_path(db_path: Path) -> Path:
    await _fill(db_path)
    return db_path


def test_an_untouched_log_verifies(log_path: Path) -> None:
    report = verify_chain(log_path)
    assert report.ok
    assert report.events == 8
    assert report.first_bad_seq is None and report.problem is None
    conn = sqlite3.connect(log_path)
    (last_hash,) = conn.execute("SELECT hash FROM feedback WHERE seq = 8").fetchone()
    conn.close()
    assert report.head_hash == last_hash


async def test_an_empty_log_verifies(db_path: Path) -> None:
    async with SQLiteEventLog(db_path):
        pass
    report = verify_chain(db_path)
    assert report.ok and report.events == 0


TAMPERING: list[tuple[str, tuple[str, ...], int, str]] = [
    ("modified", ("UPDATE inference SET probability = 0.99 WHERE seq = 3",), 3, "modified"),
    ("modified admin", ("UPDATE admin SET payload = '{\"baseline\":100}'",), 6, "modified"),
    ("modified feedback", ("UPDATE feedback SET truth = 0 WHERE seq = 7",), 7, "modified"),
    ("deleted", ("DELETE FROM inference WHERE seq = 2",), 2, "missing"),
    ("deleted last", ("DELETE FROM feedback WHERE seq = 8",), 8, "missing"),
    (
        "inserted with a duplicate seq",
        (
            "INSERT INTO admin (seq, ts, kind, experiment, payload, prev_hash, hash) "
            "SELECT seq, 1.0, 'x', NULL, '{}', prev_hash, hash FROM inference WHERE seq = 4",
        ),
        4,
        "twice",
    ),
    (
        "appended past the head",
        (
            "INSERT INTO admin (seq, ts, kind, experiment, payload, prev_hash, hash) "
            "SELECT 9, 1.0, 'x', NULL, '{}', hash, hash FROM feedback WHERE seq = 8",
        ),
        9,
        "past the chain head",
    ),
    (
        "appended with the head moved",
        (
            "INSERT INTO admin (seq, ts, kind, experiment, payload, prev_hash, hash) "
            "SELECT 9, 1.0, 'x', NULL, '{}', hash, hash FROM feedback WHERE seq = 8",
            "UPDATE chain_head SET seq = 9",
        ),
        9,
        "modified",
    ),
    (
        "rows swapped",
        (
            "UPDATE inference SET seq = -2 WHERE seq = 2",
            "UPDATE inference SET seq = 2 WHERE seq = 3",
            "UPDATE inference SET seq = 3 WHERE seq = -2",
        ),
        2,
        "prev_hash",
    ),
    ("head rewritten", (f"UPDATE chain_head SET hash = '{'e' * 64}'",), 8, "head hash"),
]


@pytest.mark.parametrize(
    ("statements", "bad_seq", "problem"),
    [case[1:] for case in TAMPERING],
    ids=[case[0] for case in TAMPERING],
)
def test_tampering_is_detected(
    log_path: Path, statements: tuple[str, ...], bad_seq: int, problem: str
) -> None:
    _tamper(log_path, *statements)
    report = verify_chain(log_path)
    assert not report.ok
    assert report.first_bad_seq == bad_seq
    assert report.problem is not None and problem in report.problem


def test_hash_is_sha256_of_prev_hash_and_sorted_compact_json() -> None:
    """The chain format, spelled out with the standard library, for auditors."""
    values: tuple[object, ...] = (1.5, "r1", "exp", "m", "1", "m", "split", None, "abc", 0.75)
    values += ("buy", 2.0, 200, None, None, 0.7)
    body = canonical_json("inference", 1, INFERENCE_FIELDS, values)
    record = dict(zip(INFERENCE_FIELDS, values, strict=True)) | {"event": "inference", "seq": 1}
    assert body == json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    expected = hashlib.sha256(GENESIS_HASH.encode() + body).hexdigest()
    assert link(GENESIS_HASH, body) == expected


def test_verify_needs_an_existing_log(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no such file"):
        verify_chain(tmp_path / "missing.db")
    assert not (tmp_path / "missing.db").exists()
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    with pytest.raises(StoreError, match="not an abgate event log"):
        verify_chain(empty)
