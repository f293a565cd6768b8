from __future__ import annotations

from typing import Any

import pytest

from abgate.events import ASSIGNMENTS, AdminEvent, FeedbackItem

from .conftest import inference


def test_a_valid_event_keeps_its_fields() -> None:
    event = inference("r1", error=None, fallback_reason=None, ts=5, latency_ms=0)
    assert event.request_id == "r1" and event.ts == 5
    assert {"split", "sticky", "hash", "direct", "fallback", "mirror"} == ASSIGNMENTS
    for assignment in ASSIGNMENTS:
        inference(assignment=assignment)


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        ({"assignment": "random"}, ValueError, "assignment must be one of"),
        ({"request_id": 7}, TypeError, "request_id must be a string"),
        ({"experiment": b"exp"}, TypeError, "experiment must be a string or None"),
        ({"ts": "now"}, TypeError, "ts must be a number"),
        ({"ts": float("nan")}, ValueError, "ts must be finite"),
        ({"latency_ms": -1.0}, ValueError, "latency_ms must be >= 0"),
        ({"latency_ms": float("inf")}, ValueError, "latency_ms must be finite"),
        ({"probability": 1.5}, ValueError, "probability must be <= 1"),
        ({"probability": -0.1}, ValueError, "probability must be >= 0"),
        ({"probability": True}, TypeError, "probability must be a number"),
        ({"status": True}, TypeError, "status must be an int"),
        ({"status": 200.0}, TypeError, "status must be an int"),
        ({"status": 42}, ValueError, "HTTP status"),
        ({"propensity": 1.5}, ValueError, "propensity must be <= 1"),
        ({"propensity": -0.5}, ValueError, "propensity must be >= 0"),
    ],
)
def test_invalid_inference_events_are_rejected_at_construction(
    overrides: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        inference(**overrides)


def test_admin_event_validation() -> None:
    AdminEvent(1.0, "rollout", None, {})
    with pytest.raises(ValueError, match="kind must not be empty"):
        AdminEvent(1.0, "", None, {})
    with pytest.raises(TypeError, match="payload must be a mapping"):
        AdminEvent(1.0, "rollout", None, [("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ts must be finite"):
        AdminEvent(float("nan"), "rollout", None, {})


def test_feedback_items_are_not_validated_on_construction() -> None:
    # Bad ground truth is reported in FeedbackResult.invalid, never raised.
    assert FeedbackItem("r1", 7).truth == 7
