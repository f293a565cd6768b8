"""WAL checkpoints off the commit path.

SQLite normally checkpoints inside the commit that pushes the WAL past 1000 pages: that commit
copies the pages into the database file and fsyncs it, and with strict durability every request
waiting for that commit waits too (spikes of 100-500 ms at the 99th percentile here). The
writer connection turns automatic checkpoints off and this thread, with its own connection,
runs a ``PASSIVE`` checkpoint every ``interval_s``: it copies what no reader still needs and
never blocks the writer or the readers. When a checkpoint has caught up, the next commit starts
the WAL over (and ``journal_size_limit`` shrinks the file).
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("abgate.events")


class Checkpointer:
    def __init__(self, path: Path, interval_s: float = 0.5):
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self._path = path
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="abgate-events-ckpt", daemon=True)
        self.checkpoints = 0  # introspection for tests
        self.pages = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        busy, _wal_pages, moved = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if not busy:
            self.checkpoints += 1
            self.pages += max(moved, 0)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:  # the writer reports problems with the file itself
            log.warning("event log checkpointer cannot open %s: %s", self._path, exc)
            return
        try:
            conn.execute("PRAGMA busy_timeout = 1000")
            while not self._stop.wait(self._interval):
                try:
                    self.checkpoint(conn)
                except sqlite3.Error as exc:  # busy or locked: try again next time
                    log.debug("checkpoint of %s skipped: %s", self._path, exc)
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
