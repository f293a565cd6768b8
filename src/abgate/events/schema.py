"""The on-disk layout of the SQLite event log, and how a file is opened and checked.

Three tables share one sequence: every row of ``inference``, ``feedback`` and ``admin`` has a
unique ``seq`` (1, 2, 3, ... with no gaps) and is a link of one hash chain whose head is kept in
``chain_head``. ``PRAGMA application_id`` marks the file as an abgate log and
``PRAGMA user_version`` is the schema version; ``MIGRATIONS[i]`` takes version ``i`` to ``i + 1``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final, Literal

from abgate.errors import StoreError

APPLICATION_ID: Final = 0x61626731  # "abg1"
SCHEMA_VERSION: Final = 3
GENESIS_HASH: Final = "0" * 64
"""``prev_hash`` of the first event of every log."""

# Column order is part of the hash definition (see chain.py): fields are hashed by name, but the
# writer builds rows in this order and the verifier reads them back in this order.
INFERENCE_FIELDS: Final = (
    "ts",
    "request_id",
    "experiment",
    "model",
    "version",
    "assigned_model",
    "assignment",
    "unit_hash",
    "input_sha256",
    "probability",
    "signal",
    "latency_ms",
    "status",
    "error",
    "fallback_reason",
    "propensity",
)
FEEDBACK_FIELDS: Final = (
    "ts",
    "experiment",
    "request_id",
    "inference_seq",
    "model",
    "truth",
    "reward",
    "correct",
)
ADMIN_FIELDS: Final = ("ts", "kind", "experiment", "payload")

EventKind = Literal["inference", "feedback", "admin"]
FIELDS: Final[dict[EventKind, tuple[str, ...]]] = {
    "inference": INFERENCE_FIELDS,
    "feedback": FEEDBACK_FIELDS,
    "admin": ADMIN_FIELDS,
}

_V1: Final = f"""
CREATE TABLE inference (
    seq             INTEGER PRIMARY KEY,
    ts              REAL    NOT NULL,
    request_id      TEXT    NOT NULL,
    experiment      TEXT,
    model           TEXT    NOT NULL,
    version         TEXT    NOT NULL,
    assigned_model  TEXT,
    assignment      TEXT    NOT NULL,
    unit_hash       TEXT,
    input_sha256    TEXT    NOT NULL,
    probability     REAL,
    signal          TEXT,
    latency_ms      REAL    NOT NULL,
    status          INTEGER NOT NULL,
    error           TEXT,
    fallback_reason TEXT,
    propensity      REAL,
    prev_hash       TEXT    NOT NULL,
    hash            TEXT    NOT NULL
);
-- feedback join and find_inference
CREATE INDEX inference_request ON inference (request_id);
-- tallies(): covering index, one range scan per experiment
CREATE INDEX inference_tally ON inference (experiment, model, assignment, status);
-- assignment_counts() (sample ratio mismatch): covering index
CREATE INDEX inference_assigned ON inference (experiment, assigned_model, assignment);

CREATE TABLE feedback (
    seq             INTEGER PRIMARY KEY,
    ts              REAL    NOT NULL,
    experiment      TEXT    NOT NULL,
    request_id      TEXT    NOT NULL,
    inference_seq   INTEGER NOT NULL REFERENCES inference (seq),
    model           TEXT    NOT NULL,
    truth           INTEGER NOT NULL,
    reward          REAL,
    correct         INTEGER,
    prev_hash       TEXT    NOT NULL,
    hash            TEXT    NOT NULL
);
-- one ground truth per prediction; also the duplicate check
CREATE UNIQUE INDEX feedback_inference ON feedback (inference_seq);
CREATE INDEX feedback_tally ON feedback (experiment, model, correct);

CREATE TABLE admin (
    seq             INTEGER PRIMARY KEY,
    ts              REAL    NOT NULL,
    kind            TEXT    NOT NULL,
    experiment      TEXT,
    payload         TEXT    NOT NULL,
    prev_hash       TEXT    NOT NULL,
    hash            TEXT    NOT NULL
);
CREATE INDEX admin_experiment ON admin (experiment, seq);

CREATE TABLE chain_head (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    seq             INTEGER NOT NULL,
    hash            TEXT    NOT NULL
);
INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HASH}');
"""

# Version 2: running sufficient statistics per (experiment, model), kept by triggers in the same
# transaction as the rows they count, so an analysis reads a handful of rows however long the log
# is. Mirror traffic is never counted. The backfill makes a version-1 log consistent.
_V2: Final = """
CREATE TABLE tally_served (
    experiment      TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    requests        INTEGER NOT NULL,
    errors          INTEGER NOT NULL,
    fallbacks       INTEGER NOT NULL,
    latency_sum     REAL    NOT NULL,
    latency_sumsq   REAL    NOT NULL,
    PRIMARY KEY (experiment, model)
) WITHOUT ROWID;
CREATE TABLE tally_assigned (
    experiment      TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    assignments     INTEGER NOT NULL,
    failures        INTEGER NOT NULL,  -- the chosen model failed (fallback or error reply)
    PRIMARY KEY (experiment, model)
) WITHOUT ROWID;
CREATE TABLE tally_feedback (
    experiment      TEXT    NOT NULL,
    model           TEXT    NOT NULL,
    scored          INTEGER NOT NULL,
    correct         INTEGER NOT NULL,
    reward_n        INTEGER NOT NULL,
    reward_sum      REAL    NOT NULL,
    reward_sumsq    REAL    NOT NULL,
    PRIMARY KEY (experiment, model)
) WITHOUT ROWID;

CREATE TRIGGER tally_inference AFTER INSERT ON inference
WHEN NEW.experiment IS NOT NULL AND NEW.assignment != 'mirror'
BEGIN
    INSERT INTO tally_served
    VALUES (NEW.experiment, NEW.model, 1, NEW.status >= 400, NEW.assignment = 'fallback',
            NEW.latency_ms, NEW.latency_ms * NEW.latency_ms)
    ON CONFLICT (experiment, model) DO UPDATE SET
        requests = requests + 1,
        errors = errors + excluded.errors,
        fallbacks = fallbacks + excluded.fallbacks,
        latency_sum = latency_sum + excluded.latency_sum,
        latency_sumsq = latency_sumsq + excluded.latency_sumsq;
    INSERT INTO tally_assigned
    SELECT NEW.experiment, NEW.assigned_model, 1,
           NEW.assignment = 'fallback' OR NEW.status >= 400
    WHERE NEW.assigned_model IS NOT NULL
    ON CONFLICT (experiment, model) DO UPDATE SET
        assignments = assignments + 1,
        failures = failures + excluded.failures;
END;

CREATE TRIGGER tally_feedback_insert AFTER INSERT ON feedback
BEGIN
    INSERT INTO tally_feedback
    VALUES (NEW.experiment, NEW.model, NEW.correct IS NOT NULL, coalesce(NEW.correct, 0),
            NEW.reward IS NOT NULL, coalesce(NEW.reward, 0.0),
            coalesce(NEW.reward * NEW.reward, 0.0))
    ON CONFLICT (experiment, model) DO UPDATE SET
        scored = scored + excluded.scored,
        correct = correct + excluded.correct,
        reward_n = reward_n + excluded.reward_n,
        reward_sum = reward_sum + excluded.reward_sum,
        reward_sumsq = reward_sumsq + excluded.reward_sumsq;
END;

INSERT INTO tally_served
SELECT experiment, model, count(*), sum(status >= 400), sum(assignment = 'fallback'),
       sum(latency_ms), sum(latency_ms * latency_ms)
FROM inference WHERE experiment IS NOT NULL AND assignment != 'mirror'
GROUP BY experiment, model;
INSERT INTO tally_assigned
SELECT experiment, assigned_model, count(*), sum(assignment = 'fallback' OR status >= 400)
FROM inference
WHERE experiment IS NOT NULL AND assigned_model IS NOT NULL AND assignment != 'mirror'
GROUP BY experiment, assigned_model;
INSERT INTO tally_feedback
SELECT experiment, model, count(correct), coalesce(sum(correct), 0), count(reward),
       coalesce(sum(reward), 0.0), coalesce(sum(reward * reward), 0.0)
FROM feedback GROUP BY experiment, model;
"""

# Version 3: the tally tables answer tallies() and assignment_counts(), so the two covering
# indexes version 1 kept for them only cost writes (about a fifth of the writer's time per event,
# ``benchmarks/bench_events.py``). Audits that recount from raw rows scan the table instead.
_V3: Final = """
DROP INDEX IF EXISTS inference_tally;
DROP INDEX IF EXISTS inference_assigned;
"""

MIGRATIONS: Final = (_V1, _V2, _V3)


def _statements(script: str) -> list[str]:
    """Split a script into statements (``executescript`` would commit our transaction)."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending)
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement in migration: {pending!r}")
    return statements


def _connect(path: Path, *, create: bool) -> sqlite3.Connection:
    if str(path) == ":memory:":
        raise ValueError("the event log needs a file path (readers use their own connections)")
    if path.is_dir():
        raise StoreError(f"cannot open event log {path}: it is a directory")
    if not path.parent.is_dir():
        raise StoreError(f"cannot open event log {path}: directory {path.parent} does not exist")
    if not create and not path.is_file():
        raise StoreError(f"cannot open event log {path}: no such file")
    try:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=True)
        conn.execute("PRAGMA busy_timeout = 5000")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open event log {path}: {exc}") from exc
    return conn


def _check_identity(conn: sqlite3.Connection, path: Path) -> int:
    """Return the schema version of an abgate log (0 for an empty file), else raise."""
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        objects = conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot open event log {path}: {exc}") from exc
    if app_id == 0 and version == 0 and objects == 0:
        return 0
    if app_id != APPLICATION_ID:
        raise StoreError(f"{path} is a SQLite database but not an abgate event log")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"event log {path} has schema version {version}; this abgate reads up to "
            f"{SCHEMA_VERSION} (upgrade abgate)"
        )
    return int(version)


def open_writer(path: str | Path, *, synchronous: Literal["FULL", "NORMAL"]) -> sqlite3.Connection:
    """Open (creating or migrating if needed) the log for writing, in WAL mode."""
    path = Path(path)
    conn = _connect(path, create=True)
    try:
        _check_identity(conn, path)
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise StoreError(f"cannot put event log {path} in WAL mode (got {mode})")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA cache_size = -16384")  # 16 MiB: keeps the index pages hot
        conn.execute("PRAGMA journal_size_limit = 67108864")  # shrink the WAL back to 64 MiB
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have created the schema.
            version = _check_identity(conn, path)
            for ddl in MIGRATIONS[version:]:
                for statement in _statements(ddl):
                    conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot open event log {path}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def open_reader(path: str | Path) -> sqlite3.Connection:
    """Open an existing log for queries only; never creates or changes the file."""
    path = Path(path)
    conn = _connect(path, create=False)
    try:
        version = _check_identity(conn, path)
        if version == 0:
            raise StoreError(f"{path} is empty, not an abgate event log")
        conn.execute("PRAGMA query_only = ON")
    except BaseException:
        conn.close()
        raise
    return conn
