"""A real Prometheus (Debian's binary) on loopback, scraping a real gateway every second.

One short load with ground truth feeds both; then, through Prometheus' HTTP API: the per-model
request counts equal the gateway's event log, every Grafana panel expression evaluates, and the
recording and alert rules run without error and find the baseline and the candidate.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml

from abgate.registry.store import Registry

from .conftest import (
    RULES,
    dashboard_queries,
    free_port,
    gateway,
    grafana_substitute,
    load_dashboard,
    require_binary,
    running,
)

pytestmark = pytest.mark.slow

EXPERIMENT = "financial-ab-test-experiment"
BASELINE, CANDIDATE = "baseline-predictor", "enhanced-predictor"
SPLIT_REQUESTS, DIRECT_REQUESTS, WORKERS, ROUNDS = 240, 40, 4, 4
# Panels that are empty on healthy traffic: nothing fell back, nothing is mirrored.
EMPTY_WHEN_HEALTHY = {("Error and fallback rates", "B"), ("Mirrored requests / s", "A")}


@dataclass
class Stack:
    gateway: str
    prometheus: str
    db: Path
    acknowledged: int

    def query(self, promql: str) -> list[dict[str, Any]]:
        r = httpx.get(self.prometheus + "/api/v1/query", params={"query": promql}, timeout=10)
        doc = r.json()
        assert r.status_code == 200 and doc["status"] == "success", f"{promql}: {doc}"
        result: list[dict[str, Any]] = doc["data"]["result"]
        return result

    def api(self, path: str, **params: Any) -> Any:
        doc = httpx.get(self.prometheus + path, params=params, timeout=10).json()
        assert doc["status"] == "success", doc
        return doc["data"]


def eventually(check: Callable[[], Any], timeout: float = 20, what: str = "") -> Any:
    """``check()`` once it stops raising AssertionError (Prometheus scrapes every second)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return check()
        except AssertionError as exc:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what or 'condition'} not met in {timeout:g} s") from exc
        time.sleep(0.25)


async def drive(url: str, windows: np.ndarray, labels: np.ndarray) -> int:
    """Split traffic through the default model, a few direct calls, and the ground truth, in
    rounds a little longer than the scrape interval, so Prometheus sees the counters grow."""
    jobs = [("baseline-predictor", i) for i in range(SPLIT_REQUESTS)]
    jobs += [(f"{CANDIDATE}/versions/1", i) for i in range(DIRECT_REQUESTS)]
    acknowledged = 0
    truth: list[dict[str, Any]] = []
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:

        async def worker(mine: list[tuple[str, int]]) -> None:
            nonlocal acknowledged
            for model, i in mine:
                k = i % len(windows)
                body = {
                    "id": f"{model}-{i}",
                    "inputs": [
                        {
                            "name": "ohlcv",
                            "shape": [1, *windows[k].shape],
                            "datatype": "FP32",
                            "data": windows[k].reshape(-1).tolist(),
                        }
                    ],
                }
                r = await client.post(f"/v2/models/{model}/infer", json=body)
                assert r.status_code == 200, r.text
                acknowledged += 1
                if not model.startswith(CANDIDATE):
                    truth.append({"id": body["id"], "truth": int(labels[k])})

        for batch in (jobs[r::ROUNDS] for r in range(ROUNDS)):
            await asyncio.gather(*(worker(batch[w::WORKERS]) for w in range(WORKERS)))
            r = await client.post(
                f"/v2/experiments/{EXPERIMENT}/feedback", json={"feedback": truth}
            )
            assert r.json()["accepted"] == len(truth)
            truth.clear()
            await asyncio.sleep(1.2)
    return acknowledged


@pytest.fixture(scope="session")  # session: resolved before the session-wide smoke training
def prometheus() -> str:
    return require_binary("prometheus")


@pytest.fixture(scope="module")
def stack(
    prometheus: str, smoke_registry: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("prometheus")
    db = tmp / "events.db"
    heldout = Registry(smoke_registry).get(BASELINE).load_heldout()
    with gateway(smoke_registry, db) as gw:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {
                    "job_name": "abgate",
                    "static_configs": [{"targets": [gw.removeprefix("http://")]}],
                }
            ],
        }
        (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        args = [
            prometheus,
            f"--config.file={tmp / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        url = f"http://127.0.0.1:{port}"
        with running(args, url + "/-/ready", "prometheus"):
            s = Stack(gw, url, db, 0)
            eventually(lambda: _assert(s.query('up{job="abgate"} == 1')), what="first scrape")
            s.acknowledged = asyncio.run(drive(gw, heldout.windows, heldout.labels))
            # the live analysis has published its gauges and Prometheus has scraped them
            eventually(lambda: _assert(s.query("abgate_accuracy_difference")), what="analysis")
            yield s


def _assert(value: Any) -> Any:
    assert value
    return value


def event_log_counts(db: Path) -> dict[tuple[str, str], int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT coalesce(experiment, ''), model, count(*) FROM inference "
            "WHERE assignment != 'mirror' GROUP BY 1, 2"
        ).fetchall()
    return {(e, m): n for e, m, n in rows}


def test_per_model_request_counts_equal_the_event_log(stack: Stack) -> None:
    def same() -> dict[tuple[str, str], int]:
        logged = event_log_counts(stack.db)
        scraped = {
            # Prometheus drops empty labels: direct calls have experiment="" in the gateway
            (r["metric"].get("experiment", ""), r["metric"]["model"]): int(float(r["value"][1]))
            for r in stack.query('sum by (experiment, model) (abgate_requests_total{job="abgate"})')
        }
        assert sum(logged.values()) == stack.acknowledged
        assert scraped == logged
        return logged

    counts = eventually(same, what="request counts")
    assert counts[("", CANDIDATE)] == DIRECT_REQUESTS
    assert counts[(EXPERIMENT, BASELINE)] + counts[(EXPERIMENT, CANDIDATE)] == SPLIT_REQUESTS
    # and the gateway's own experiment status agrees, arm by arm, with what Prometheus has
    status = httpx.get(f"{stack.gateway}/v2/experiments/{EXPERIMENT}").json()
    for arm in status["variants"]:
        assert arm["served"] == counts[(EXPERIMENT, arm["model"])]
        scored = stack.query(
            f'sum(abgate_feedback_total{{experiment="{EXPERIMENT}",model="{arm["model"]}"}})'
        )
        assert int(float(scored[0]["value"][1])) == arm["scored"]


def test_every_dashboard_expression_evaluates(stack: Stack) -> None:
    failures = []
    for title, ref, expr in dashboard_queries(load_dashboard()):
        promql = grafana_substitute(expr, EXPERIMENT)
        r = httpx.get(stack.prometheus + "/api/v1/query", params={"query": promql}, timeout=10)
        doc = r.json()
        if doc.get("status") != "success":
            failures.append(f"{title} [{ref}]: {doc.get('error')}")
        elif not doc["data"]["result"] and (title, ref) not in EMPTY_WHEN_HEALTHY:
            failures.append(f"{title} [{ref}]: no data")
    assert not failures, "\n".join(failures)


def test_experiment_variable_lists_the_experiment(stack: Stack) -> None:
    values = stack.api("/api/v1/label/experiment/values", **{"match[]": "abgate_experiment_weight"})
    assert values == [EXPERIMENT]


def test_rules_evaluate_and_know_baseline_from_candidate(stack: Stack) -> None:
    def evaluated() -> None:
        groups = stack.api("/api/v1/rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        assert len(rules) == sum(
            len(g["rules"]) for g in yaml.safe_load(RULES.read_text())["groups"]
        )
        assert all(r["health"] == "ok" for r in rules), [r for r in rules if r["health"] != "ok"]
        assert stack.query("experiment_model:abgate_requests:rate5m")

    eventually(evaluated, what="rule evaluation")
    roles = {
        name: {(r["metric"]["experiment"], r["metric"]["model"]) for r in stack.query(name)}
        for name in (
            "experiment_model:abgate_candidate:info",
            "experiment_model:abgate_baseline:info",
        )
    }
    assert roles["experiment_model:abgate_candidate:info"] == {(EXPERIMENT, CANDIDATE)}
    assert roles["experiment_model:abgate_baseline:info"] == {(EXPERIMENT, BASELINE)}
    ratios = stack.query("experiment_model:abgate_failures:ratio_rate5m")
    assert {r["metric"]["model"] for r in ratios} == {BASELINE, CANDIDATE}
    assert all(float(r["value"][1]) == 0 for r in ratios)


def test_no_alert_on_healthy_traffic(stack: Stack) -> None:
    # Drift may legitimately be pending: the held-out days are another market regime than the
    # training years (see the model card); everything else must be quiet.
    active = {a["labels"]["alertname"] for a in stack.api("/api/v1/alerts")["alerts"]}
    assert active <= {"PredictionDrift"}
