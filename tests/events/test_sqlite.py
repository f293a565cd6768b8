from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from abgate.errors import StoreError
from abgate.events import (
    AdminEvent,
    EventStore,
    FeedbackItem,
    ModelTally,
    SQLiteEventLog,
    verify_chain,
)
from abgate.events.writer import Writer

from .conftest import count_rows, inference, request_ids

LONG = 60.0  # a max_delay that never elapses during a test: batches close only when full


async def test_satisfies_event_store_protocol(db_path: Path) -> None:
    log = SQLiteEventLog(db_path)
    assert isinstance(log, EventStore)
    store: EventStore = log  # and statically, for mypy
    await store.close()  # closing a log that never started is a no-op


async def test_strict_event_is_committed_when_record_returns(db_path: Path, open_log: Any) -> None:
    log = await open_log()
    for i in range(5):
        await log.record_inference(inference(f"r{i}"))
        assert count_rows(db_path) == i + 1


async def test_relaxed_events_are_queued_until_the_batch_closes(
    db_path: Path, open_log: Any
) -> None:
    log = await open_log(durability="relaxed", max_delay_s=LONG, batch_max=512)
    for i in range(300):
        await log.record_inference(inference(f"r{i}"))
    assert count_rows(db_path) == 0  # acknowledged, not yet committed
    await log.close()
    assert request_ids(db_path) == [f"r{i}" for i in range(300)]
    await log.close()  # idempotent


async def test_group_commit_writes_one_transaction_per_full_batch(
    db_path: Path, open_log: Any
) -> None:
    log = await open_log(durability="relaxed", batch_max=100, max_delay_s=LONG)
    for i in range(1000):
        await log.record_inference(inference(f"r{i}"))
    await log.close()
    assert log.stats.batches == 10
    assert log.stats.largest_batch == 100
    assert log.stats.events == 1000
    assert count_rows(db_path) == 1000


async def test_strict_concurrent_callers_share_commits(db_path: Path, open_log: Any) -> None:
    log = await open_log(batch_max=50, max_delay_s=LONG)
    await asyncio.wait_for(
        asyncio.gather(*(log.record_inference(inference(f"r{i}")) for i in range(200))), 10
    )
    assert log.stats.batches == 4  # 200 fsyncs amortised into 4 commits
    assert count_rows(db_path) == 200


async def test_a_waiting_caller_does_not_wait_for_max_delay(db_path: Path, open_log: Any) -> None:
    log = await open_log(max_delay_s=LONG)  # the batch is closed once no more callers are ready
    await asyncio.wait_for(log.record_inference(inference("alone")), 10)
    assert count_rows(db_path) == 1


@pytest.mark.parametrize("durability", ["strict", "relaxed"])
async def test_backpressure_bounds_pending_and_loses_nothing(
    db_path: Path, open_log: Any, durability: str
) -> None:
    log = await open_log(durability=durability, max_pending=16, batch_max=8)
    await asyncio.wait_for(
        asyncio.gather(*(log.record_inference(inference(f"r{i}")) for i in range(2000))), 30
    )
    await log.close()
    stats = log.stats
    assert stats.backpressure_waits > 0
    assert stats.peak_pending <= 16
    assert stats.pending == 0
    ids = request_ids(db_path)
    assert len(ids) == 2000
    assert set(ids) == {f"r{i}" for i in range(2000)}


async def test_cancelled_waiter_does_not_leak_its_slot(db_path: Path, open_log: Any) -> None:
    log = await open_log(max_pending=1, batch_max=1)
    tasks = [asyncio.create_task(log.record_inference(inference(f"r{i}"))) for i in range(20)]
    await asyncio.sleep(0)
    for task in tasks[5:10]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await log.record_inference(inference("after"))
    assert log.stats.pending == 0
    assert log.stats.peak_pending == 1
    assert count_rows(db_path) == 16  # 15 not cancelled while waiting + "after"


async def test_feedback_joins_and_reports_every_item(db_path: Path, open_log: Any) -> None:
    log = await open_log()
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
            FeedbackItem("shadow", 1),  # only a mirror copy exists: nothing to score
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
    # "up" right, "down" wrong; "failed" has no probability, so it is not scored
    assert result.scored == (("baseline", 1, 1),)

    again = await log.record_feedback("exp", [FeedbackItem("down", 0)])
    assert (again.accepted, again.duplicate) == (0, ("down",))

    conn = sqlite3.connect(db_path)
    rows = conn.execute(
        "SELECT request_id, truth, reward, correct FROM feedback ORDER BY seq"
    ).fetchall()
    conn.close()
    assert rows == [("up", 1, 1.0, 1), ("down", 1, None, 0), ("failed", 0, None, None)]


async def test_feedback_joins_an_inference_still_in_the_queue(db_path: Path, open_log: Any) -> None:
    log = await open_log(durability="relaxed", batch_max=2, max_delay_s=LONG)
    await log.record_inference(inference("queued", probability=0.9))
    assert count_rows(db_path) == 0  # still queued: a batch needs 2 operations
    result = await asyncio.wait_for(log.record_feedback("exp", [FeedbackItem("queued", 1)]), 10)
    assert result.accepted == 1
    assert log.stats.batches == 1  # inference and feedback committed together


async def test_feedback_with_nothing_valid_needs_no_writer(open_log: Any) -> None:
    log = await open_log()
    result = await log.record_feedback("exp", [FeedbackItem("x", -1)])
    assert result.invalid == ("x",)
    assert log.stats.batches == 0


async def test_tallies_and_assignment_counts(open_log: Any) -> None:
    log = await open_log(durability="relaxed")
    events = [
        inference("a1", probability=0.8),
        inference("a2", probability=0.2),
        inference("a3", assignment="sticky", probability=0.6),
        inference("a4", status=503, probability=None, error="down"),
        inference("b1", model="enhanced", assigned_model="enhanced", probability=0.9),
        inference("b2", model="enhanced", assigned_model="enhanced", assignment="hash"),
        # enhanced was chosen, its breaker was open, baseline answered
        inference(
            "f1",
            model="baseline",
            assigned_model="enhanced",
            assignment="fallback",
            fallback_reason="breaker_open",
            probability=0.3,
        ),
        # mirror copies are logged but never counted
        inference("a1", model="enhanced", assigned_model=None, assignment="mirror"),
        inference("m2", model="shadow", assigned_model="shadow", assignment="mirror", status=500),
        # other experiments and direct calls do not leak in
        inference("x1", experiment="other"),
        inference("d1", experiment=None, assigned_model=None, assignment="direct"),
    ]
    for event in events:
        await log.record_inference(event)
    feedback = await log.record_feedback(
        "exp",
        [FeedbackItem(r, 1) for r in ("a1", "a2", "a3", "a4", "b1", "f1")],
    )
    assert feedback.accepted == 6

    # Relaxed mode: the queries still see every acknowledged event (read-your-writes).
    assert await log.tallies("exp") == {
        "baseline": ModelTally("baseline", requests=5, errors=1, fallbacks=1, scored=4, correct=2),
        "enhanced": ModelTally("enhanced", requests=2, errors=0, fallbacks=0, scored=1, correct=1),
    }
    assert await log.assignment_counts("exp") == {"baseline": 4, "enhanced": 3}
    assert await log.tallies("missing") == {}
    assert await log.assignment_counts("missing") == {}


async def test_find_inference_returns_the_served_event_and_its_feedback(open_log: Any) -> None:
    log = await open_log(clock=lambda: 42.0)  # the clock stamps feedback
    await log.record_inference(inference("r1", probability=0.25))
    await log.record_inference(inference("r1", model="shadow", assignment="mirror"))
    assert await log.find_inference("nope") is None

    found = await log.find_inference("r1")
    assert found is not None
    assert found["model"] == "baseline"
    assert found["probability"] == 0.25
    assert found["assignment"] == "split"
    assert found["seq"] == 1
    assert found["feedback"] is None

    await log.record_feedback("exp", [FeedbackItem("r1", 0, reward=0.5)])
    found = await log.find_inference("r1")
    assert found is not None
    assert found["feedback"] == {"seq": 3, "ts": 42.0, "truth": 0, "reward": 0.5, "correct": 1}


async def test_admin_events_are_recorded_with_canonical_payload(
    db_path: Path, open_log: Any
) -> None:
    log = await open_log()
    await log.record_admin(
        AdminEvent(1.0, "weight_change", "exp", {"weights": {"b": 30, "a": 70}, "by": "ops"})
    )
    await log.record_admin(AdminEvent(2.0, "breaker", None, {"model": "b", "state": "open"}))
    with pytest.raises(TypeError, match="not JSON-serialisable"):
        await log.record_admin(AdminEvent(3.0, "rollout", "exp", {"when": object()}))
    conn = sqlite3.connect(db_path)
    rows = conn.execute("SELECT seq, kind, experiment, payload FROM admin").fetchall()
    conn.close()
    assert rows == [
        (1, "weight_change", "exp", '{"by":"ops","weights":{"a":70,"b":30}}'),
        (2, "breaker", None, '{"model":"b","state":"open"}'),
    ]


async def test_restart_continues_the_chain(db_path: Path) -> None:
    async with SQLiteEventLog(db_path) as log:
        for i in range(5):
            await log.record_inference(inference(f"a{i}"))
    async with SQLiteEventLog(db_path, durability="relaxed") as log:
        for i in range(5):
            await log.record_inference(inference(f"b{i}"))
        await log.record_feedback("exp", [FeedbackItem("a0", 1)])
    report = verify_chain(db_path)
    assert report.ok, report.problem
    assert report.events == 11


async def test_two_logs_on_one_file_keep_one_chain(db_path: Path, open_log: Any) -> None:
    first = await open_log()
    second = await open_log()
    await asyncio.gather(
        *(log.record_inference(inference(f"r{i}")) for i in range(100) for log in (first, second))
    )
    assert count_rows(db_path) == 200
    report = verify_chain(db_path)
    assert report.ok, report.problem


# -- errors --------------------------------------------------------------------------------


async def test_missing_directory_is_a_store_error(tmp_path: Path) -> None:
    log = SQLiteEventLog(tmp_path / "nope" / "events.db")
    with pytest.raises(StoreError, match="does not exist"):
        await log.start()
    await log.close()


async def test_a_directory_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        await SQLiteEventLog(tmp_path).start()


async def test_a_file_that_is_not_sqlite_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("these are not the events you are looking for\n" * 100)
    with pytest.raises(StoreError, match="not a database"):
        await SQLiteEventLog(path).start()


async def test_a_foreign_sqlite_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not an abgate event log"):
        await SQLiteEventLog(path).start()


async def test_a_newer_schema_is_a_store_error(db_path: Path) -> None:
    async with SQLiteEventLog(db_path):
        pass
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        await SQLiteEventLog(db_path).start()


async def test_invalid_options_are_value_errors(db_path: Path) -> None:
    for options in (
        {"durability": "eventual"},
        {"batch_max": 0},
        {"max_pending": 0},
        {"max_delay_s": -1.0},
    ):
        with pytest.raises(ValueError):
            SQLiteEventLog(db_path, **options)
    with pytest.raises(ValueError, match="file path"):
        SQLiteEventLog(":memory:")


async def test_use_before_start_and_after_close(db_path: Path) -> None:
    log = SQLiteEventLog(db_path)
    with pytest.raises(RuntimeError, match="before start"):
        await log.record_inference(inference())
    await log.start()
    with pytest.raises(RuntimeError, match="start"):
        await log.start()
    await log.close()
    with pytest.raises(StoreError, match="closed"):
        await log.record_inference(inference())
    with pytest.raises(StoreError, match="closed"):
        await log.tallies("exp")
    with pytest.raises(TypeError):
        await log.record_inference("not an event")  # type: ignore[arg-type]


def _break_schema(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE inference")
    conn.close()


async def test_strict_write_failure_surfaces_as_store_error(db_path: Path, open_log: Any) -> None:
    log = await open_log()
    await log.record_inference(inference("ok"))
    _break_schema(db_path)
    with pytest.raises(StoreError, match="write failed"):
        await log.record_inference(inference("lost"))
    # The failure is sticky: later calls fail fast instead of hanging.
    with pytest.raises(StoreError):
        await log.record_inference(inference("later"))
    with pytest.raises(StoreError):
        await log.record_feedback("exp", [FeedbackItem("ok", 1)])
    await log.close()  # nothing acknowledged was lost


async def test_relaxed_write_failure_is_reported_by_close(db_path: Path) -> None:
    log = SQLiteEventLog(db_path, durability="relaxed", max_delay_s=LONG)
    await log.start()
    _break_schema(db_path)
    await log.record_inference(inference("acknowledged"))
    with pytest.raises(StoreError, match="1 acknowledged events were not written"):
        await log.close()
    await log.close()  # reported once; closing again is a no-op


async def test_a_crashed_writer_fails_callers_instead_of_hanging(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash_once_work_arrives(self: Writer) -> None:
        while not self.queue:
            time.sleep(0.001)
        raise RuntimeError("bug in the writer")

    monkeypatch.setattr(Writer, "_next_batch", crash_once_work_arrives)
    log = SQLiteEventLog(db_path)
    await log.start()
    with pytest.raises(StoreError, match="crashed"):
        await asyncio.wait_for(log.record_inference(inference("queued")), 10)
    with pytest.raises(StoreError, match="crashed"):
        await log.record_inference(inference("later"))
    await asyncio.wait_for(log.close(), 10)
