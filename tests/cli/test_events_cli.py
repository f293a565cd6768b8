from __future__ import annotations

import asyncio
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

from abgate.events.sqlite import SQLiteEventLog
from abgate.events.types import InferenceEvent


def write_log(path: Path, n: int) -> None:
    async def main() -> None:
        log = SQLiteEventLog(path)
        await log.start()
        for i in range(n):
            await log.record_inference(
                InferenceEvent(
                    ts=1.0 + i,
                    request_id=f"r{i}",
                    experiment="e",
                    model="m",
                    version="1",
                    assigned_model="m",
                    assignment="split",
                    unit_hash=None,
                    input_sha256="x",
                    probability=0.6,
                    signal="BUY",
                    latency_ms=1.0,
                    status=200,
                )
            )
        await log.close()

    asyncio.run(main())


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "abgate.cli.main", "events", "export", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_export_jsonl_and_csv(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    write_log(db, 5)
    proc = run("--db", str(db))
    assert proc.returncode == 0 and "exported 5 inference event(s)" in proc.stderr
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["request_id"] for r in records] == [f"r{i}" for i in range(5)]
    out = tmp_path / "e.csv"
    assert run("--db", str(db), "--format", "csv", "--out", str(out)).returncode == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 5 and rows[0]["signal"] == "BUY"


def test_missing_log_is_an_error(tmp_path: Path) -> None:
    proc = run("--db", str(tmp_path / "none.db"))
    assert (
        proc.returncode == 1
        and proc.stderr.startswith("Error: ")
        and "Traceback" not in proc.stderr
    )
