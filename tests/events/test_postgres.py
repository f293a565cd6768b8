"""The PostgreSQL event log against a real server on loopback: the SQLite log's behaviour, the same
analysis and hash chain from the same events, and several writer processes sharing one database.

Skipped with a reason when the PostgreSQL server binaries are not installed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from abgate.errors import ConfigError, StoreError
from abgate.events import (
    AdminEvent,
    EventStore,
    FeedbackItem,
    ModelTally,
    SQLiteEventLog,
    verify_chain,
)
from abgate.events.factory import (
    event_log_exists,
    is_postgres_url,
    list_experiments,
    load_experiment,
    open_event_store,
)

from .conftest import inference
from .pg_server import (
    SKIP_HINT,
    can_drop_root,
    find_bindir,
    free_port,
    fresh_schema,
    postgres_server,
)

psycopg = pytest.importorskip("psycopg", reason="pip install 'abgate[postgres]'")

from abgate.events.pg_schema import redact  # noqa: E402  (needs psycopg)
from abgate.events.postgres import PostgresEventLog, verify_postgres_chain  # noqa: E402

LONG = 60.0  # a max_delay that never elapses during a test: batches close only when full
CHILD = Path(__file__).with_name("strict_writer_child.py")
SRC = Path(__file__).resolve().parents[2] / "src"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(f"PostgreSQL server binaries (initdb, pg_ctl) not found; {SKIP_HINT}")
    if os.geteuid() == 0 and not can_drop_root():
        pytest.skip("running as root without runuser or a 'postgres' user to run PostgreSQL as")
    with postgres_server(bindir) as url:
        yield url


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A URL whose search path is a fresh, empty schema: every test gets its own log."""
    return fresh_schema(pg_server)


@pytest.fixture
async def open_pg(pg_url: str) -> AsyncIterator[Callable[..., Any]]:
    """Factory: ``await open_pg(**options)`` starts a log on ``pg_url``; all are closed after."""
    logs: list[PostgresEventLog] = []

    async def factory(**options: Any) -> PostgresEventLog:
        log = PostgresEventLog(pg_url, **options)
        await log.start()
        logs.append(log)
        return log

    yield factory
    for log in logs:
        await log.close()


def sql(url: str, query: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows seen by an independent connection (committed data only)."""
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query.encode(), params)
        return cur.fetchall() if cur.description is not None else []


def count_rows(url: str, table: str = "inference") -> int:
    return int(sql(url, f"SELECT count(*) FROM {table}")[0][0])


def request_ids(url: str) -> list[str]:
    return [r[0] for r in sql(url, "SELECT request_id FROM inference ORDER BY seq")]


# -- the EventStore semantics, as for SQLite ------------------------------------------------------


async def test_satisfies_event_store_protocol(pg_url: str) -> None:
    log = PostgresEventLog(pg_url)
    assert isinstance(log, EventStore)
    store: EventStore = log
    await store.close()  # closing a log that never started is a no-op


async def test_strict_event_is_committed_when_record_returns(pg_url: str, open_pg: Any) -> None:
    log = await open_pg()
    for i in range(5):
        await log.record_inference(inference(f"r{i}"))
        assert count_rows(pg_url) == i + 1


async def test_relaxed_events_are_queued_until_the_batch_closes(pg_url: str, open_pg: Any) -> None:
    log = await open_pg(durability="relaxed", max_delay_s=LONG, batch_max=512)
    for i in range(300):
        await log.record_inference(inference(f"r{i}"))
    assert count_rows(pg_url) == 0  # acknowledged, not yet committed
    await log.close()
    assert request_ids(pg_url) == [f"r{i}" for i in range(300)]


async def test_group_commit_writes_one_transaction_per_full_batch(
    pg_url: str, open_pg: Any
) -> None:
    log = await open_pg(durability="relaxed", batch_max=100, max_delay_s=LONG)
    for i in range(1000):
        await log.record_inference(inference(f"r{i}"))
    await log.close()
    assert (log.stats.batches, log.stats.largest_batch, log.stats.events) == (10, 100, 1000)
    assert count_rows(pg_url) == 1000


async def test_strict_concurrent_callers_share_commits(pg_url: str, open_pg: Any) -> None:
    log = await open_pg(batch_max=50, max_delay_s=LONG)
    await asyncio.wait_for(
        asyncio.gather(*(log.record_inference(inference(f"r{i}")) for i in range(200))), 10
    )
    assert log.stats.batches == 4
    assert count_rows(pg_url) == 200


@pytest.mark.parametrize("durability", ["strict", "relaxed"])
async def test_backpressure_bounds_pending_and_loses_nothing(
    pg_url: str, open_pg: Any, durability: str
) -> None:
    log = await open_pg(durability=durability, max_pending=16, batch_max=8)
    await asyncio.wait_for(
        asyncio.gather(*(log.record_inference(inference(f"r{i}")) for i in range(1000))), 30
    )
    await log.close()
    assert log.stats.backpressure_waits > 0
    assert log.stats.peak_pending <= 16
    assert log.stats.pending == 0
    assert sorted(request_ids(pg_url)) == sorted(f"r{i}" for i in range(1000))


async def test_feedback_joins_and_reports_every_item(pg_url: str, open_pg: Any) -> None:
    log = await open_pg()
    await log.record_inference(inference("up", probability=0.8))
    await log.record_inference(inference("down", probability=0.3))
    await log.record_inference(inference("failed", probability=None, status=500, error="boom"))
    await log.record_inference(inference("other", experiment="exp2"))
    await log.record_inference(inference("shadow", model="enhanced", assignment="mirror"))

    result = await log.record_feedback(
        "exp",
        [
            FeedbackItem("up", 1, reward=1.0),
            FeedbackItem("down", 1),
            FeedbackItem("failed", 0),
            FeedbackItem("up", 0),  # repeated within the call
            FeedbackItem("nope", 1),
            FeedbackItem("other", 1),  # belongs to another experiment
            FeedbackItem("shadow", 1),  # only a mirror copy exists
            FeedbackItem("bad-truth", 2),
            FeedbackItem("float-truth", 1.0),  # type: ignore[arg-type]
            FeedbackItem("bad-reward", 1, reward=float("nan")),
            FeedbackItem("", 1),
        ],
    )
    assert result.accepted == 3
    assert result.duplicate == ("up",)
    assert result.unknown == ("nope", "other", "shadow")
    assert result.invalid == ("bad-truth", "float-truth", "bad-reward", "")

    again = await log.record_feedback("exp", [FeedbackItem("down", 0)])
    assert (again.accepted, again.duplicate) == (0, ("down",))
    rows = sql(pg_url, "SELECT request_id, truth, reward, correct FROM feedback ORDER BY seq")
    assert rows == [("up", 1, 1.0, 1), ("down", 1, None, 0), ("failed", 0, None, None)]


async def test_feedback_joins_an_inference_still_in_the_queue(pg_url: str, open_pg: Any) -> None:
    log = await open_pg(durability="relaxed", batch_max=2, max_delay_s=LONG)
    await log.record_inference(inference("queued", probability=0.9))
    assert count_rows(pg_url) == 0
    result = await asyncio.wait_for(log.record_feedback("exp", [FeedbackItem("queued", 1)]), 10)
    assert result.accepted == 1
    assert log.stats.batches == 1  # inference and feedback committed together


async def test_tallies_and_assignment_counts_match_a_recount(pg_url: str, open_pg: Any) -> None:
    log = await open_pg(durability="relaxed")
    events = [
        inference("a1", probability=0.8),
        inference("a2", probability=0.2),
        inference("a3", assignment="sticky", probability=0.6),
        inference("a4", status=503, probability=None, error="down"),
        inference("b1", model="enhanced", assigned_model="enhanced", probability=0.9),
        inference("b2", model="enhanced", assigned_model="enhanced", assignment="hash"),
        inference(
            "f1",
            model="baseline",
            assigned_model="enhanced",
            assignment="fallback",
            fallback_reason="breaker_open",
            probability=0.3,
        ),
        inference("a1", model="enhanced", assigned_model=None, assignment="mirror"),
        inference("m2", model="shadow", assigned_model="shadow", assignment="mirror", status=500),
        inference("x1", experiment="other"),
        inference("d1", experiment=None, assigned_model=None, assignment="direct"),
    ]
    for event in events:
        await log.record_inference(event)
    feedback = await log.record_feedback(
        "exp", [FeedbackItem(r, 1) for r in ("a1", "a2", "a3", "a4", "b1", "f1")]
    )
    assert feedback.accepted == 6
    expected = {
        "baseline": ModelTally("baseline", requests=5, errors=1, fallbacks=1, scored=4, correct=2),
        "enhanced": ModelTally("enhanced", requests=2, errors=0, fallbacks=0, scored=1, correct=1),
    }
    assert await log.tallies("exp") == expected  # read-your-writes in relaxed mode
    assert await log.assignment_counts("exp") == {"baseline": 4, "enhanced": 3}
    assert await log.tallies("missing") == {}
    recount = sql(
        pg_url,
        "SELECT model, count(*), count(*) FILTER (WHERE status >= 400) FROM inference "
        "WHERE experiment = 'exp' AND assignment <> 'mirror' GROUP BY model ORDER BY model",
    )
    assert recount == [("baseline", 5, 1), ("enhanced", 2, 0)]


async def test_find_inference_returns_the_served_event_and_its_feedback(open_pg: Any) -> None:
    log = await open_pg(clock=lambda: 42.0)
    await log.record_inference(inference("r1", probability=0.25))
    await log.record_inference(inference("r1", model="shadow", assignment="mirror"))
    assert await log.find_inference("nope") is None
    found = await log.find_inference("r1")
    assert found is not None
    assert (found["model"], found["probability"], found["seq"]) == ("baseline", 0.25, 1)
    assert found["feedback"] is None
    await log.record_feedback("exp", [FeedbackItem("r1", 0, reward=0.5)])
    found = await log.find_inference("r1")
    assert found is not None
    assert found["feedback"] == {"seq": 3, "ts": 42.0, "truth": 0, "reward": 0.5, "correct": 1}


async def test_admin_events_are_recorded_with_canonical_payload(pg_url: str, open_pg: Any) -> None:
    log = await open_pg()
    await log.record_admin(
        AdminEvent(1.0, "weight_change", "exp", {"weights": {"b": 30, "a": 70}, "by": "ops"})
    )
    await log.record_admin(AdminEvent(2.0, "breaker", None, {"model": "b", "state": "open"}))
    assert sql(pg_url, "SELECT seq, kind, experiment, payload FROM admin ORDER BY seq") == [
        (1, "weight_change", "exp", '{"by":"ops","weights":{"a":70,"b":30}}'),
        (2, "breaker", None, '{"model":"b","state":"open"}'),
    ]


async def test_restart_and_two_logs_keep_one_chain(pg_url: str, open_pg: Any) -> None:
    async with PostgresEventLog(pg_url) as log:
        for i in range(5):
            await log.record_inference(inference(f"a{i}"))
    first = await open_pg()
    second = await open_pg(durability="relaxed")
    await asyncio.gather(
        *(log.record_inference(inference(f"r{i}")) for i in range(100) for log in (first, second))
    )
    await second.record_feedback("exp", [FeedbackItem("a0", 1)])
    await second.close()
    report = verify_postgres_chain(pg_url)
    assert report.ok, report.problem
    assert report.events == 206


async def test_same_events_give_the_same_chain_and_analysis_as_sqlite(
    pg_url: str, tmp_path: Path
) -> None:
    """Both stores hash identical rows and answer the analysis identically."""
    rng = np.random.default_rng(7)
    events = [
        inference(
            f"r{i}",
            ts=1_700_000_000.0 + i * 0.125,
            model=model,
            assigned_model=model,
            probability=float(rng.uniform()),
            latency_ms=float(rng.gamma(2.0, 1.3)),
            propensity=0.7 if model == "baseline" else 0.3,
        )
        for i, model in enumerate(rng.choice(["baseline", "enhanced"], 400, p=[0.7, 0.3]))
    ]
    config = AdminEvent(
        1.0, "experiment_config", "exp", {"default": "baseline", "weights": {"baseline": 70}}
    )
    truth = [FeedbackItem(f"r{i}", int(rng.integers(0, 2)), reward=0.01 * i) for i in range(300)]
    db = tmp_path / "events.db"
    for log in (SQLiteEventLog(db, clock=lambda: 5.0), PostgresEventLog(pg_url, clock=lambda: 5.0)):
        async with log:
            await log.record_admin(config)
            for event in events:
                await log.record_inference(event)
            await log.record_feedback("exp", truth)

    sqlite_report, pg_report = verify_chain(db), verify_postgres_chain(pg_url)
    assert sqlite_report.ok and pg_report.ok, (sqlite_report, pg_report)
    assert pg_report.head_hash == sqlite_report.head_hash

    assert list_experiments(pg_url) == list_experiments(db) == ["exp"]
    ours, theirs = load_experiment(pg_url, "exp"), load_experiment(db, "exp")
    assert (ours.default, ours.weights, ours.events) == (theirs.default, theirs.weights, 400)
    assert ours.arms.keys() == theirs.arms.keys()
    for name, arm in ours.arms.items():
        other = theirs.arms[name]
        assert (arm.assignments, arm.accuracy, arm.errors) == (
            other.assignments,
            other.accuracy,
            other.errors,
        )
        assert arm.returns.n == other.returns.n
        assert arm.returns.sum == pytest.approx(other.returns.sum)
        assert sorted(arm.latency_ms) == sorted(other.latency_ms)


# -- opening and failing ---------------------------------------------------------------------


def test_factory_chooses_the_store_from_the_location(pg_url: str, tmp_path: Path) -> None:
    assert isinstance(open_event_store(pg_url), PostgresEventLog)
    assert isinstance(open_event_store(str(tmp_path / "e.db")), SQLiteEventLog)
    with pytest.raises(ConfigError, match="does not exist"):
        open_event_store(str(tmp_path / "missing" / "e.db"))
    assert is_postgres_url("postgres://h/db") and not is_postgres_url("events.db")
    assert event_log_exists(pg_url) and not event_log_exists(str(tmp_path / "e.db"))


def test_passwords_never_appear_in_messages() -> None:
    assert redact("postgresql://u:secret@db:5432/x?sslmode=require") == (
        "postgresql://u:***@db:5432/x?sslmode=require"
    )
    assert redact("postgresql://u@db/x") == "postgresql://u@db/x"


async def test_unreachable_server_is_a_store_error() -> None:
    port = free_port()  # nothing listens there
    log = PostgresEventLog(f"postgresql://abgate:secret@127.0.0.1:{port}/x?connect_timeout=2")
    with pytest.raises(StoreError, match="cannot connect") as info:
        await log.start()
    assert "secret" not in str(info.value)
    await log.close()


async def test_foreign_tables_and_newer_schemas_are_store_errors(pg_server: str) -> None:
    foreign = fresh_schema(pg_server)
    sql(foreign, "CREATE TABLE inference (x int)")
    with pytest.raises(StoreError, match="not an abgate event log"):
        await PostgresEventLog(foreign).start()
    newer = fresh_schema(pg_server)
    async with PostgresEventLog(newer):
        pass
    sql(newer, "UPDATE abgate_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="schema version 99"):
        await PostgresEventLog(newer).start()


def test_invalid_options_are_value_errors(pg_url: str) -> None:
    with pytest.raises(ValueError, match="postgresql://"):
        PostgresEventLog("events.db")
    for options in ({"durability": "eventual"}, {"batch_max": 0}, {"max_pending": 0}):
        with pytest.raises(ValueError):
            PostgresEventLog(pg_url, **options)


async def test_strict_write_failure_is_sticky(pg_url: str, open_pg: Any) -> None:
    log = await open_pg()
    await log.record_inference(inference("ok"))
    sql(pg_url, "DROP TABLE inference CASCADE")
    with pytest.raises(StoreError, match="write failed"):
        await log.record_inference(inference("lost"))
    with pytest.raises(StoreError):
        await log.record_feedback("exp", [FeedbackItem("ok", 1)])
    await log.close()  # nothing acknowledged was lost


async def test_relaxed_write_failure_is_reported_by_close(pg_url: str) -> None:
    log = PostgresEventLog(pg_url, durability="relaxed", max_delay_s=LONG)
    await log.start()
    sql(pg_url, "DROP TABLE inference CASCADE")
    await log.record_inference(inference("acknowledged"))
    with pytest.raises(StoreError, match="1 acknowledged events were not written"):
        await log.close()


async def test_a_lost_connection_is_reestablished_without_loss(pg_url: str, open_pg: Any) -> None:
    log = await open_pg()
    await log.record_inference(inference("before"))
    assert await log.tallies("exp")  # the reader connection is open too
    killed = sql(
        pg_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'abgate' AND pid <> pg_backend_pid()",
    )
    assert len(killed) == 2  # writer and reader
    await asyncio.gather(*(log.record_inference(inference(f"after{i}")) for i in range(20)))
    assert (await log.tallies("exp"))["baseline"].requests == 21
    assert log._writer.reconnects == 1  # type: ignore[union-attr]
    assert count_rows(pg_url) == 21
    report = verify_postgres_chain(pg_url)
    assert report.ok and report.events == 21, report


async def test_a_commit_whose_reply_was_lost_is_not_written_twice(
    pg_url: str, open_pg: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The connection drops after COMMIT reached the server: the retry finds the batch there."""
    from abgate.events.pg_writer import PgWriter

    original = PgWriter._write_batch
    calls = 0

    def commit_then_lose_the_reply(self: PgWriter, conn: Any, batch: Any) -> list[object]:
        nonlocal calls
        calls += 1
        results = original(self, conn, batch)  # committed
        if calls == 1:
            conn.close()
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return results

    monkeypatch.setattr(PgWriter, "_write_batch", commit_then_lose_the_reply)
    log = await open_pg(clock=lambda: 9.0)
    await log.record_inference(inference("once", probability=0.9))
    assert calls == 1 and log._writer.reconnects == 1  # type: ignore[union-attr]
    assert request_ids(pg_url) == ["once"]
    result = await log.record_feedback("exp", [FeedbackItem("once", 1)])
    assert result.accepted == 1
    assert verify_postgres_chain(pg_url).ok


# -- several processes -----------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }


@pytest.mark.slow
def test_strict_events_survive_sigkill_and_writers_share_one_chain(pg_url: str) -> None:
    """Three writer processes; one is killed mid-stream: every acknowledged event is stored."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(CHILD), pg_url, f"p{k}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_child_env(),
        )
        for k in range(3)
    ]
    watchdog = threading.Timer(60, lambda: [p.kill() for p in procs])
    watchdog.start()
    acked: set[str] = set()
    try:
        for proc in procs:
            assert proc.stdout is not None
            lines = [proc.stdout.readline() for _ in range(300)]
            assert all(line.endswith("\n") for line in lines), proc.stderr
            acked.update(line.strip() for line in lines)
        for proc in procs:
            proc.send_signal(signal.SIGKILL)
        for proc in procs:
            # Read through the same buffered stream as readline() (communicate() would skip
            # what it already buffered); a line cut by the kill has no newline: not an ack.
            assert proc.stdout is not None and proc.stderr is not None
            with proc.stdout, proc.stderr:
                rest, errors = proc.stdout.read(), proc.stderr.read()
            assert proc.wait() == -signal.SIGKILL, errors
            acked.update(line for line in rest.splitlines(keepends=True) if line.endswith("\n"))
    finally:
        watchdog.cancel()
    acked = {line.strip() for line in acked}
    stored = set(request_ids(pg_url))
    assert acked <= stored
    report = verify_postgres_chain(pg_url)
    assert report.ok, report.problem
    assert report.events == len(stored)


@pytest.mark.slow
def test_several_gateway_processes_lose_nothing(pg_url: str, smoke_registry: Path) -> None:
    """Three `abgate serve` processes on one database: every answered request id is logged once,
    the chain is one chain, and feedback sent to one replica joins predictions of the others."""
    window = np.random.default_rng(0).uniform(90, 110, (1, 40, 5)).astype(np.float32)
    window[..., 4] = 1e6
    body = {"inputs": [{"name": "ohlcv", "shape": [1, 40, 5], "datatype": "FP32",
                        "data": window.ravel().tolist()}]}  # fmt: skip
    gateways = [_start_gateway(smoke_registry, pg_url, free_port()) for _ in range(3)]
    sent: list[str] = []
    try:
        urls = [url for _, url in gateways]
        for url in urls:
            _wait_ready(url, gateways)
        with httpx.Client(timeout=10) as client:

            def call(i: int) -> str:
                rid = f"req-{i}"
                resp = client.post(
                    f"{urls[i % 3]}/v2/models/baseline-predictor/infer", json={**body, "id": rid}
                )
                assert resp.status_code == 200, resp.text
                return rid

            with ThreadPoolExecutor(12) as pool:
                sent = list(pool.map(call, range(300)))
            # Feedback for predictions served by all three replicas, sent to the first.
            resp = client.post(
                f"{urls[0]}/v2/experiments/financial-ab-test-experiment/feedback",
                json={"feedback": [{"id": rid, "truth": 1} for rid in sent[:90]]},
                headers={"authorization": "Bearer t"},
            )
            assert resp.status_code == 200, resp.text
            assert resp.json()["accepted"] == 90, resp.json()
    finally:
        for proc, _ in gateways:
            proc.terminate()
        for proc, _ in gateways:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            proc.communicate(timeout=10)
    logged = sql(
        pg_url,
        "SELECT request_id, count(*) FROM inference WHERE assignment <> 'mirror' "
        "GROUP BY request_id",
    )
    assert {rid: n for rid, n in logged} == dict.fromkeys(sent, 1)
    report = verify_postgres_chain(pg_url)
    assert report.ok, report.problem


def _start_gateway(registry: Path, url: str, port: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "abgate.cli.main",
            "serve",
            "--registry",
            str(registry),
            "--events-db",
            url,
            "--port",
            str(port),
            "--admin-token",
            "t",
            "--durability",
            "strict",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=_child_env(),
    )
    return proc, f"http://127.0.0.1:{port}"


def _wait_ready(url: str, gateways: list[tuple[subprocess.Popen[str], str]]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if any(proc.poll() is not None for proc, _ in gateways):
            break
        time.sleep(0.1)
    for proc, _ in gateways:
        proc.kill()
    outputs = [proc.communicate(timeout=5)[0] for proc, _ in gateways]
    raise RuntimeError(f"gateway {url} did not start: {outputs}")
