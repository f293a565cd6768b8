from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import pytest

from abgate.errors import StoreError
from abgate.events import (
    AdminEvent,
    FeedbackItem,
    InferenceEvent,
    SQLiteEventLog,
    export_events,
)
from abgate.events.chain import canonical_json, link
from abgate.events.export import columns
from abgate.events.schema import FIELDS, GENESIS_HASH

from .conftest import inference

EVENTS = [
    inference("r1", probability=0.8, unit_hash="u1"),
    inference("r2", probability=None, status=503, error='upstream "down", retry', signal=None),
    inference(
        "r3",
        model="baseline",
        assigned_model="enhanced",
        assignment="fallback",
        fallback_reason="breaker_open",
        latency_ms=12.345678901234567,
        ts=1_700_000_000.123456,
    ),
    inference("r4", experiment=None, assigned_model=None, assignment="direct", propensity=None),
    inference("r5", model="shadow", assigned_model=None, assignment="mirror", signal="héllo ✓"),
]


@pytest.fixture
async def log_path(db_path: Path) -> Path:
    async with SQLiteEventLog(db_path) as log:
        for event in EVENTS[:3]:
            await log.record_inference(event)
        await log.record_admin(
            AdminEvent(7.5, "breaker", "exp", {"model": "enhanced", "to": "open"})
        )
        for event in EVENTS[3:]:
            await log.record_inference(event)
        await log.record_feedback("exp", [FeedbackItem("r1", 1, reward=0.25)])
    return db_path


def _as_event(record: dict[str, object]) -> InferenceEvent:
    names = {field.name for field in dataclasses.fields(InferenceEvent)}
    return InferenceEvent(**{k: v for k, v in record.items() if k in names})  # type: ignore[arg-type]


def test_jsonl_round_trip(log_path: Path) -> None:
    out = io.StringIO()
    assert export_events(log_path, "jsonl", out) == len(EVENTS)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [_as_event(r) for r in records] == EVENTS
    assert [r["seq"] for r in records] == [1, 2, 3, 5, 6]
    assert list(records[0]) == list(columns("inference"))


def test_csv_round_trip(log_path: Path) -> None:
    out = io.StringIO()
    assert export_events(log_path, "csv", out) == len(EVENTS)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == list(columns("inference"))
    numbers = {"ts": float, "latency_ms": float, "probability": float, "propensity": float}

    def parse(row: dict[str, str]) -> InferenceEvent:
        record: dict[str, object] = {}
        for name, text in row.items():
            if name == "status":
                record[name] = int(text)
            elif text == "":
                record[name] = None
            else:
                record[name] = numbers.get(name, str)(text)
        return _as_event(record)

    assert [parse(row) for row in rows] == EVENTS


def test_all_kinds_in_seq_order_and_each_hash_recomputes(log_path: Path) -> None:
    out = io.StringIO()
    assert export_events(log_path, "jsonl", out, kind="all") == 7
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["seq"], r["event"]) for r in records] == [
        (1, "inference"),
        (2, "inference"),
        (3, "inference"),
        (4, "admin"),
        (5, "inference"),
        (6, "inference"),
        (7, "feedback"),
    ]
    assert records[3]["payload"] == '{"model":"enhanced","to":"open"}'
    assert records[6]["correct"] == 1 and records[6]["inference_seq"] == 1
    # An export carries everything needed to check the chain independently.
    prev = GENESIS_HASH
    for r in records:
        values = [r[name] for name in FIELDS[r["event"]]]
        assert r["prev_hash"] == prev
        prev = link(prev, canonical_json(r["event"], r["seq"], FIELDS[r["event"]], values))
        assert r["hash"] == prev


@pytest.mark.parametrize("kind", ["feedback", "admin"])
def test_one_kind_as_csv(log_path: Path, kind: str) -> None:
    out = io.StringIO()
    assert export_events(log_path, "csv", out, kind=kind) == 1  # type: ignore[arg-type]
    header, row = out.getvalue().splitlines()
    assert header.split(",") == list(columns(kind))  # type: ignore[arg-type]
    assert row.startswith("7,") if kind == "feedback" else row.startswith("4,7.5,breaker,exp,")


def test_all_kinds_as_csv_uses_the_union_of_columns(log_path: Path) -> None:
    out = io.StringIO()
    assert export_events(log_path, "csv", out, kind="all") == 7
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[3]["event"] == "admin" and rows[3]["model"] == "" and rows[3]["kind"] == "breaker"
    assert rows[6]["event"] == "feedback" and rows[6]["truth"] == "1"


def test_bad_arguments(log_path: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="fmt"):
        export_events(log_path, "xml", io.StringIO())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="kind"):
        export_events(log_path, "csv", io.StringIO(), kind="metrics")  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        export_events(tmp_path / "missing.db", "csv", io.StringIO())
