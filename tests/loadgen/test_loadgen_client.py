"""The load generator's wire format, scoring rule and failure counting (real sockets)."""

from __future__ import annotations

import asyncio
import socket

import httpx
import numpy as np
import orjson
import pytest

from abgate.loadgen.client import (
    FeedbackBatch,
    LoadGenerator,
    Outcome,
    Planned,
    Target,
    encode_request,
    plan_requests,
)
from abgate.loadgen.scenarios import Regime, Scenario
from abgate.loadgen.tally import ClientTally


def scenario(i: int = 0, truth: int = 1) -> Scenario:
    window = np.random.default_rng(i).uniform(1, 200, (40, 5)).astype(np.float32)
    return Scenario(i, "AAPL", "2012-01-03", window, truth, 0.01, Regime.BULL)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on exit: connections are refused


def test_request_body_is_v2_json_with_the_exact_window() -> None:
    planned = Planned(0, "run-000000", "acct-1", scenario(3))
    doc = orjson.loads(encode_request(planned))
    assert doc["id"] == "run-000000"
    (tensor,) = doc["inputs"]
    assert tensor["name"] == "ohlcv" and tensor["shape"] == [1, 40, 5]
    assert tensor["datatype"] == "FP32"
    sent = np.asarray(tensor["data"], dtype=np.float32).reshape(40, 5)
    assert np.array_equal(sent, planned.scenario.window)


def test_headers_address_the_experiment() -> None:
    target = Target("http://gw:1/", "exp", "base", host_header="ab.example.com", token="s3")
    assert target.infer_url == "http://gw:1/v2/models/base/infer"
    assert target.feedback_url == "http://gw:1/v2/experiments/exp/feedback"
    assert target.headers() == {
        "content-type": "application/json",
        "seldon-model": "exp.experiment",
        "host": "ab.example.com",
    }
    assert target.headers(inference=False)["authorization"] == "Bearer s3"


@pytest.mark.parametrize(
    ("p", "truth", "correct"), [(0.73, 1, True), (0.5, 1, False), (0.5, 0, True), (0.2, 1, False)]
)
def test_scoring_uses_the_gateways_rule(p: float, truth: int, correct: bool) -> None:
    outcome = Outcome(Planned(0, "r", "a", scenario(truth=truth)), 200, 1.0, 0.0, probability=p)
    assert outcome.correct is correct
    assert outcome.predicted == int(p > 0.5)
    failed = Outcome(Planned(0, "r", "a", scenario()), 0, 1.0, 0.0, error="ConnectError")
    assert not failed.ok and failed.correct is None


def test_failures_are_counted_never_retried() -> None:
    tally = ClientTally()
    batches: list[FeedbackBatch] = []
    plan = plan_requests([scenario(i) for i in range(3)], 7, accounts=2, seed=0, run_id="r")

    async def go() -> None:
        async with httpx.AsyncClient(timeout=2.0) as http:
            target = Target(f"http://127.0.0.1:{closed_port()}", "exp", "base")
            generator = LoadGenerator(
                http, target, on_outcome=tally.record, on_feedback=batches.append
            )
            await generator.closed_loop(plan, workers=3)

    asyncio.run(go())
    assert (tally.sent, tally.failures, tally.answered) == (7, 7, 0)
    assert tally.failure_reasons == {"ConnectError": 7}
    assert all(o.status == 0 for o in tally.outcomes)
    assert sorted(o.planned.seq for o in tally.outcomes) == list(range(7))
    assert batches == []  # nothing answered, nothing to score


def test_load_shapes_refuse_nonsense() -> None:
    async def go() -> None:
        async with httpx.AsyncClient() as http:
            target = Target("http://x", "e", "m")
            generator = LoadGenerator(http, target, on_outcome=print, on_feedback=print)
            with pytest.raises(ValueError):
                await generator.closed_loop([], workers=0)
            with pytest.raises(ValueError):
                await generator.open_loop([], rate=0)
            with pytest.raises(ValueError):
                LoadGenerator(http, target, on_outcome=print, on_feedback=print, feedback_batch=0)

    asyncio.run(go())
