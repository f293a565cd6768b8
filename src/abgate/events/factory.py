"""Choose the event store from its location: a file path is SQLite, a ``postgresql://`` URL is
PostgreSQL. The gateway (``events_db``) and the offline analysis both go through here.

PostgreSQL support needs ``psycopg`` (``pip install 'abgate[postgres]'``); it is imported only
when a URL asks for it, so SQLite users never pay for it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

from abgate.errors import ConfigError
from abgate.events import summaries
from abgate.events.sqlite import SQLiteEventLog
from abgate.events.store import EventStore

Durability = Literal["fsync", "strict", "relaxed"]


def is_postgres_url(location: str | Path) -> bool:
    """True for ``postgresql://…`` and ``postgres://…``, the two URI schemes libpq accepts."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def _require_psycopg() -> None:
    if importlib.util.find_spec("psycopg") is None:
        raise ConfigError("a postgresql:// event log needs psycopg: pip install 'abgate[postgres]'")


def open_event_store(location: str | Path, *, durability: Durability = "strict") -> EventStore:
    """An unstarted event store for ``location``; raises ``ConfigError`` when it cannot be one."""
    if is_postgres_url(location):
        _require_psycopg()
        from abgate.events.postgres import PostgresEventLog

        # A PostgreSQL commit is on the server once it returns, which a gateway crash cannot
        # undo; "fsync" and "strict" both wait for it (the server's own settings decide fsync).
        return PostgresEventLog(
            str(location), durability="relaxed" if durability == "relaxed" else "strict"
        )
    folder = Path(location).expanduser().resolve().parent
    if not folder.is_dir():
        raise ConfigError(f"events_db: folder {folder} does not exist")
    return SQLiteEventLog(location, durability=durability)


def event_log_exists(location: str | Path) -> bool:
    """Whether there may be a log to read: the SQLite file exists, or it is a database URL."""
    return is_postgres_url(location) or Path(location).exists()


def list_experiments(location: str | Path) -> list[str]:
    """Experiments with traffic in the log at ``location``, sorted."""
    if is_postgres_url(location):
        _require_psycopg()
        from abgate.events import postgres

        return postgres.list_experiments(str(location))
    return summaries.list_experiments(location)


def load_experiment(
    location: str | Path, experiment: str, *, latency_sample: int = 5_000
) -> summaries.ExperimentData:
    """One experiment's sufficient statistics, from either store (same queries, same result)."""
    if is_postgres_url(location):
        _require_psycopg()
        from abgate.events import postgres

        return postgres.load_experiment(str(location), experiment, latency_sample=latency_sample)
    return summaries.load_experiment(location, experiment, latency_sample=latency_sample)
