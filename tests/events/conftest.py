from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from abgate.events import InferenceEvent, SQLiteEventLog

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def inference(request_id: str = "r1", **overrides: Any) -> InferenceEvent:
    """A valid inference event; override any field."""
    fields: dict[str, Any] = {
        "ts": 1_700_000_000.0,
        "request_id": request_id,
        "experiment": "exp",
        "model": "baseline",
        "version": "1",
        "assigned_model": "baseline",
        "assignment": "split",
        "unit_hash": None,
        "input_sha256": SHA,
        "probability": 0.75,
        "signal": "buy",
        "latency_ms": 1.5,
        "status": 200,
        "propensity": 0.7,
    }
    fields.update(overrides)
    return InferenceEvent(**fields)


def count_rows(path: Path, table: str = "inference") -> int:
    """Row count seen by an independent connection (committed data only)."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        conn.close()


def request_ids(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT request_id FROM inference ORDER BY seq")]
    finally:
        conn.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "events.db"


@pytest.fixture
async def open_log(db_path: Path) -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``await open_log(**options)`` starts a log on ``db_path``; all are closed after."""
    logs: list[SQLiteEventLog] = []

    async def factory(**options: Any) -> SQLiteEventLog:
        log = SQLiteEventLog(db_path, **options)
        await log.start()
        logs.append(log)
        return log

    yield factory
    for log in logs:
        await log.close()
