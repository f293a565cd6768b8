from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from abgate.events import verify_chain

CHILD = Path(__file__).with_name("strict_writer_child.py")
SRC = Path(__file__).resolve().parents[2] / "src"
ACKNOWLEDGED = 500


@pytest.mark.slow
def test_strict_events_survive_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    watchdog = threading.Timer(60, child.kill)  # never hang the suite
    watchdog.start()
    try:
        assert child.stdout is not None
        acked: list[str] = []
        while len(acked) < ACKNOWLEDGED:
            line = child.stdout.readline()
            if not line:
                break
            acked.append(line)
        child.send_signal(signal.SIGKILL)
        rest, errors = child.communicate()
    finally:
        watchdog.cancel()
    assert child.returncode == -signal.SIGKILL, errors
    assert len(acked) >= ACKNOWLEDGED, errors
    acked.extend(rest.splitlines(keepends=True))
    ids = {line.strip() for line in acked if line.endswith("\n")}

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0] for row in conn.execute("SELECT request_id FROM inference")}
    finally:
        conn.close()
    assert ids <= stored  # every acknowledged event is there (more may be: committed, not printed)
    report = verify_chain(db)
    assert report.ok, report.problem
    assert report.events == len(stored)
