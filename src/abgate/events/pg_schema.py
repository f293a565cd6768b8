"""The PostgreSQL layout of the event log, and how a database is opened and checked.

The same three tables as the SQLite log (``inference``, ``feedback``, ``admin``: one ``seq`` across
them, one hash chain whose head is the single row of ``chain_head``) and the same running tallies,
kept here by statement-level triggers over the batch's transition table: a batch of 500 inferences
updates each ``(experiment, model)`` tally once, not 500 times. ``abgate_meta`` marks the schema as
an abgate log and holds its version.

Column types are chosen so that values read back are the Python values that were hashed
(``double precision`` for floats, ``bigint``/``integer`` for integers, ``text`` for strings): the
chain verifies the same way on both stores.

Several gateway processes may open one database at the same moment: the schema is created under
a session-level advisory lock, in a transaction begun after taking it, so exactly one of them
creates it and the others find it complete.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit, urlunsplit

import psycopg

from abgate.errors import StoreError

PG_SCHEMA_VERSION: Final = 1
APPLICATION: Final = "abgate-event-log"
_MIGRATION_LOCK: Final = 0x61626731  # "abg1", as the SQLite application_id
CONNECT_TIMEOUT_S: Final = 10

_V1: Final = (
    """
CREATE TABLE abgate_meta (
    key             text PRIMARY KEY,
    value           text NOT NULL
)""",
    """
CREATE TABLE inference (
    seq             bigint PRIMARY KEY,
    ts              double precision NOT NULL,
    request_id      text NOT NULL,
    experiment      text,
    model           text NOT NULL,
    version         text NOT NULL,
    assigned_model  text,
    assignment      text NOT NULL,
    unit_hash       text,
    input_sha256    text NOT NULL,
    probability     double precision,
    signal          text,
    latency_ms      double precision NOT NULL,
    status          integer NOT NULL,
    error           text,
    fallback_reason text,
    propensity      double precision,
    prev_hash       text NOT NULL,
    hash            text NOT NULL
)""",
    # feedback join and find_inference
    "CREATE INDEX inference_request ON inference (request_id)",
    # the latency sample and the assignments since a weight change: newest rows of an experiment
    "CREATE INDEX inference_experiment_seq ON inference (experiment, seq)",
    """
CREATE TABLE feedback (
    seq             bigint PRIMARY KEY,
    ts              double precision NOT NULL,
    experiment      text NOT NULL,
    request_id      text NOT NULL,
    inference_seq   bigint NOT NULL REFERENCES inference (seq),
    model           text NOT NULL,
    truth           integer NOT NULL,
    reward          double precision,
    correct         integer,
    prev_hash       text NOT NULL,
    hash            text NOT NULL
)""",
    # one ground truth per prediction; also the duplicate check
    "CREATE UNIQUE INDEX feedback_inference ON feedback (inference_seq)",
    """
CREATE TABLE admin (
    seq             bigint PRIMARY KEY,
    ts              double precision NOT NULL,
    kind            text NOT NULL,
    experiment      text,
    payload         text NOT NULL,
    prev_hash       text NOT NULL,
    hash            text NOT NULL
)""",
    "CREATE INDEX admin_experiment ON admin (experiment, seq)",
    """
CREATE TABLE chain_head (
    id              integer PRIMARY KEY CHECK (id = 1),
    seq             bigint NOT NULL,
    hash            text NOT NULL
)""",
    "INSERT INTO chain_head (id, seq, hash) VALUES (1, 0, repeat('0', 64))",
    """
CREATE TABLE tally_served (
    experiment      text NOT NULL,
    model           text NOT NULL,
    requests        bigint NOT NULL,
    errors          bigint NOT NULL,
    fallbacks       bigint NOT NULL,
    latency_sum     double precision NOT NULL,
    latency_sumsq   double precision NOT NULL,
    PRIMARY KEY (experiment, model)
)""",
    """
CREATE TABLE tally_assigned (
    experiment      text NOT NULL,
    model           text NOT NULL,
    assignments     bigint NOT NULL,
    failures        bigint NOT NULL,
    PRIMARY KEY (experiment, model)
)""",
    """
CREATE TABLE tally_feedback (
    experiment      text NOT NULL,
    model           text NOT NULL,
    scored          bigint NOT NULL,
    correct         bigint NOT NULL,
    reward_n        bigint NOT NULL,
    reward_sum      double precision NOT NULL,
    reward_sumsq    double precision NOT NULL,
    PRIMARY KEY (experiment, model)
)""",
    """
CREATE FUNCTION abgate_tally_inference() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tally_served AS t
    SELECT experiment, model, count(*), count(*) FILTER (WHERE status >= 400),
           count(*) FILTER (WHERE assignment = 'fallback'),
           sum(latency_ms), sum(latency_ms * latency_ms)
    FROM new_rows
    WHERE experiment IS NOT NULL AND assignment <> 'mirror'
    GROUP BY experiment, model
    ON CONFLICT (experiment, model) DO UPDATE SET
        requests = t.requests + excluded.requests,
        errors = t.errors + excluded.errors,
        fallbacks = t.fallbacks + excluded.fallbacks,
        latency_sum = t.latency_sum + excluded.latency_sum,
        latency_sumsq = t.latency_sumsq + excluded.latency_sumsq;
    INSERT INTO tally_assigned AS t
    SELECT experiment, assigned_model, count(*),
           count(*) FILTER (WHERE assignment = 'fallback' OR status >= 400)
    FROM new_rows
    WHERE experiment IS NOT NULL AND assigned_model IS NOT NULL AND assignment <> 'mirror'
    GROUP BY experiment, assigned_model
    ON CONFLICT (experiment, model) DO UPDATE SET
        assignments = t.assignments + excluded.assignments,
        failures = t.failures + excluded.failures;
    RETURN NULL;
END
$$""",
    """
CREATE TRIGGER tally_inference AFTER INSERT ON inference
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION abgate_tally_inference()""",
    """
CREATE FUNCTION abgate_tally_feedback() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tally_feedback AS t
    SELECT experiment, model, count(correct), coalesce(sum(correct), 0), count(reward),
           coalesce(sum(reward), 0.0), coalesce(sum(reward * reward), 0.0)
    FROM new_rows
    GROUP BY experiment, model
    ON CONFLICT (experiment, model) DO UPDATE SET
        scored = t.scored + excluded.scored,
        correct = t.correct + excluded.correct,
        reward_n = t.reward_n + excluded.reward_n,
        reward_sum = t.reward_sum + excluded.reward_sum,
        reward_sumsq = t.reward_sumsq + excluded.reward_sumsq;
    RETURN NULL;
END
$$""",
    """
CREATE TRIGGER tally_feedback_insert AFTER INSERT ON feedback
REFERENCING NEW TABLE AS new_rows
FOR EACH STATEMENT EXECUTE FUNCTION abgate_tally_feedback()""",
)

MIGRATIONS: Final = (_V1,)
"""``MIGRATIONS[i]`` takes schema version ``i`` to ``i + 1``."""


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``: safe for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def connect(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection (transactions are explicit blocks)."""
    try:
        return psycopg.connect(
            url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_S,
            application_name="abgate",
        )
    except psycopg.Error as exc:
        raise StoreError(f"cannot connect to event log {redact(url)}: {exc}") from exc


def _schema_version(conn: psycopg.Connection[tuple[object, ...]], url: str) -> int:
    """The version of the abgate schema on the search path (0: none yet), else raise."""
    meta, inference = conn.execute(
        "SELECT to_regclass('abgate_meta'), to_regclass('inference')"
    ).fetchone() or (None, None)
    if meta is None:
        if inference is not None:
            raise StoreError(
                f"{redact(url)} has a table named inference but is not an abgate event log"
            )
        return 0
    rows = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM abgate_meta")}
    if rows.get("application") != APPLICATION:
        raise StoreError(f"{redact(url)} has an abgate_meta table but is not an abgate event log")
    version = int(str(rows.get("schema_version", "0")))
    if version > PG_SCHEMA_VERSION:
        raise StoreError(
            f"event log {redact(url)} has schema version {version}; this abgate reads up to "
            f"{PG_SCHEMA_VERSION} (upgrade abgate)"
        )
    return version


def open_writer(url: str, *, synchronous_commit: bool) -> psycopg.Connection[tuple[object, ...]]:
    """Connect, create or migrate the schema if needed, and set the commit durability."""
    conn = connect(url)
    try:
        conn.execute(
            "SELECT set_config('synchronous_commit', %s, false)",
            ("on" if synchronous_commit else "off",),
        )
        if _schema_version(conn, url) < PG_SCHEMA_VERSION:
            conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
            try:
                # Re-read in a transaction begun after taking the lock: another process may have
                # created the schema meanwhile, and only a new transaction is sure to see it
                # (this session may have cached "no such table" before).
                with conn.transaction():
                    version = _schema_version(conn, url)
                    for migration in MIGRATIONS[version:]:
                        for statement in migration:
                            conn.execute(statement.encode())
                    conn.execute(
                        "INSERT INTO abgate_meta (key, value) VALUES ('application', %s), "
                        "('schema_version', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (APPLICATION, str(PG_SCHEMA_VERSION)),
                    )
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    except psycopg.Error as exc:
        conn.close()
        raise StoreError(f"cannot open event log {redact(url)}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def open_reader(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """Connect for queries only (read-only transactions); never creates anything."""
    conn = connect(url)
    try:
        if _schema_version(conn, url) == 0:
            raise StoreError(f"{redact(url)} holds no abgate event log")
        # One snapshot per query function (several statements), never a write.
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
    except psycopg.Error as exc:
        conn.close()
        raise StoreError(f"cannot open event log {redact(url)}: {exc}") from exc
    except BaseException:
        conn.close()
        raise
    return conn
