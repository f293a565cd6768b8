"""WAL checkpoints run on their own thread: commits never copy pages into the database file."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from abgate.events import SQLiteEventLog
from abgate.events.checkpoint import Checkpointer

from .conftest import inference


async def test_the_checkpointer_moves_committed_pages(tmp_path: Path) -> None:
    path = tmp_path / "ck.db"
    async with SQLiteEventLog(path) as log:
        for i in range(3000):  # well past SQLite's own 1000-page trigger
            await log.record_inference(inference(f"r{i}"))
        writer = log._writer
        assert writer is not None and writer._checkpointer is not None
        checkpointer = writer._checkpointer
        for _ in range(40):
            if checkpointer.pages:
                break
            await asyncio.sleep(0.1)
        assert checkpointer.checkpoints >= 1 and checkpointer.pages > 0
        # The database file itself now holds the rows, not only the WAL.
        assert path.stat().st_size > 100_000
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM inference").fetchone()[0] == 3000
    conn.close()


def test_checkpointer_rejects_a_bad_interval(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Checkpointer(tmp_path / "x.db", interval_s=0)


def test_checkpointer_on_an_unreadable_path_stops_quietly(tmp_path: Path) -> None:
    ck = Checkpointer(tmp_path / "missing" / "x.db", interval_s=0.01)
    ck.start()
    ck.stop()
    assert ck.checkpoints == 0
