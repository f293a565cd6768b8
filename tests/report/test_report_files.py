"""The report: schema validation, and the three files drawn from one synthetic run."""

from __future__ import annotations

import json
import struct
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from abgate.demo.faultrun import fault_section
from abgate.demo.faults import DEMO_ROLLOUT, CandidateFault
from abgate.demo.monitor import Monitor
from abgate.demo.timeline import build_timeline
from abgate.gateway.config import BreakerSettings
from abgate.loadgen.arms import ExperimentArms
from abgate.loadgen.client import Outcome, Planned
from abgate.loadgen.scenarios import Regime, Scenario
from abgate.loadgen.tally import ClientTally, TallyCheck
from abgate.report import report_stem, write_reports
from abgate.report.json import RunInfo, build_report, timeline_eventful
from abgate.report.schema import load_schema, validate

ARMS = ExperimentArms(
    "exp", "baseline-predictor", {"baseline-predictor": 70, "enhanced-predictor": 30}
)


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG IHDR chunk."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        raise AssertionError(f"{path} is not a PNG")
    width, height = struct.unpack(">II", head[16:24])
    return width, height


T0 = 1_700_000_000.0
BASE, CAND = "baseline-predictor", "enhanced-predictor"


def admin(ts: float, kind: str, payload: dict[str, Any], exp: str | None = "exp") -> dict[str, Any]:
    return {"seq": 0, "ts": T0 + ts, "kind": kind, "experiment": exp, "payload": payload}


ROLLBACK = {"action": "rollback", "reason": "statistics: guardrail_harmed", "actor": "rollout"}
EVENTS = [
    admin(-0.3, "experiment_config", {"weights": {BASE: 70.0, CAND: 30.0}}),
    admin(
        -0.2,
        "rollout",
        {
            "action": "hold",
            "reason": "rollout started",
            "actor": "rollout",
            "phase": "running",
            "step": 0,
            "weights": {BASE: 70.0, CAND: 30.0},
        },
    ),
    admin(
        0.9,
        "breaker",
        {"model": CAND, "from": "closed", "to": "open", "reason": "5 consecutive failures"},
        None,
    ),
    admin(
        1.9,
        "breaker",
        {"model": CAND, "from": "open", "to": "half_open", "reason": "cooldown elapsed"},
        None,
    ),
    admin(
        1.91,
        "breaker",
        {"model": CAND, "from": "half_open", "to": "open", "reason": "probe failed"},
        None,
    ),
    admin(
        2.0,
        "weight_change",
        {"new": {BASE: 100.0, CAND: 0.0}, "actor": "rollout", "reason": "rollback: statistics"},
    ),
    admin(
        2.0,
        "rollout",
        {**ROLLBACK, "phase": "rolled_back", "step": 0, "weights": {BASE: 100.0, CAND: 0.0}},
    ),
]


def synthetic_report(n: int = 300, *, fault_run: bool = False) -> dict[str, Any]:
    rng = np.random.default_rng(11)
    regimes = list(Regime)
    tally = ClientTally()
    for i in range(n):
        scenario = Scenario(
            i,
            "AAPL",
            "2012-06-01",
            np.zeros((40, 5), np.float32),
            int(rng.integers(0, 2)),
            float(rng.normal(0, 0.015)),
            regimes[i % 4],
        )
        if i % 97 == 5:
            tally.record(
                Outcome(
                    Planned(i, f"r{i}", f"a{i}", scenario),
                    503,
                    3.0,
                    i * 0.01,
                    error="HTTP 503: no model could answer",
                )
            )
            continue
        model = "baseline-predictor" if rng.random() < 0.7 else "enhanced-predictor"
        fallback = fault_run and model == CAND and 0.5 < i * 0.01 < 2.0 and i % 2 == 0
        tally.record(
            Outcome(
                Planned(i, f"r{i}", f"a{i % 120}", scenario),
                200,
                float(rng.gamma(4, 1.5)),
                i * 0.01,
                model=BASE if fallback else model,
                version="1",
                assignment="fallback" if fallback else "hash",
                fallback_reason="injected_error" if fallback else None,
                probability=float(rng.uniform(0.3, 0.7)),
            )
        )
    monitor = Monitor(ARMS, seed=1)
    analysis = monitor.look(tally, 3.0, final=True)
    run = RunInfo(
        "2026-01-02T03:04:05+00:00",
        "embedded",
        "http://127.0.0.1:1",
        n,
        3,
        None,
        None,
        42,
        4 * n,
        n,
        5.0,
        3.0,
        0.01,
        "models",
    )
    fault, timeline = None, None
    if fault_run:
        timeline = build_timeline(
            EVENTS,
            tally.outcomes,
            t0=T0,
            end_s=n * 0.01,
            experiment="exp",
            baseline=BASE,
            candidate=CAND,
            config_faults={CAND: {"error_rate": 0.3, "latency_ms": 0.0, "down": False}},
        )
        status = {
            "rollout_phase": "rolled_back",
            "rollout_step_percent": 30.0,
            "weights": {BASE: 100.0, CAND: 0.0},
            "circuits": {BASE: "closed", CAND: "open"},
        }
        fault, _ = fault_section(
            CandidateFault(error_rate=0.3),
            timeline,
            tally,
            final_status=status,
            rollout_policy=DEMO_ROLLOUT,
            breaker=BreakerSettings(cooldown_s=1.0).model_dump(),
            analysis_interval_s=0.5,
        )
    return build_report(
        run=run,
        arms=ARMS,
        tally=tally,
        analysis=analysis,
        history=monitor.history,
        check=TallyCheck(False, note="synthetic"),
        headline="no significant difference in accuracy",
        recommendation="Keep the baseline. " * 20,
        fault=fault,
        timeline=timeline,
    )


def test_synthetic_report_matches_the_schema() -> None:
    report = synthetic_report()
    assert validate(report, load_schema()) == []
    assert report["traffic"]["failures"] == 4
    assert len(report["predictions"]) == 300
    assert {r["regime"] for r in report["regimes"]} == {r.value for r in Regime}


def test_schema_violations_are_reported_with_their_path() -> None:
    report = synthetic_report(60)
    report["verdict"]["verdict"] = "ship it"
    report["models"][0]["answered"] = -1
    report["models"][1]["accuracy"]["upper"] = "high"
    del report["run"]["seed"]
    report["traffic"]["surprise"] = 1
    errors = validate(report, load_schema())
    assert "$.verdict.verdict: 'ship it' is not one of" in "\n".join(errors)
    assert any(e.startswith("$.models[0].answered: -1 is below the minimum 0") for e in errors)
    assert any(e.startswith("$.models[1].accuracy.upper: expected number") for e in errors)
    assert "$.run: missing 'seed'" in errors
    assert "$.traffic: unexpected property 'surprise'" in errors


def test_validator_semantics() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}, "x": {"type": "number"}}}
    assert validate({"n": 1, "x": 2}, schema) == []
    assert validate({"n": True}, schema) == ["$.n: expected integer, got true"]
    assert validate({"n": 1.5}, schema) == ["$.n: expected integer, got 1.5"]
    assert validate({"x": False}, schema) == ["$.x: expected number, got false"]
    with pytest.raises(ValueError, match="unsupported schema keyword"):
        validate(1, {"pattern": "x"})


def test_files_png_size_markdown_and_json(tmp_path: Path) -> None:
    report = synthetic_report()
    when = datetime(2026, 1, 2, 3, 4, 5)
    paths = write_reports(report, tmp_path, when)
    assert paths.png.name == "advanced_ab_test_analysis_20260102_030405.png"
    assert {p.stem for p in paths.all()} == {"advanced_ab_test_analysis_20260102_030405"}
    assert png_size(paths.png) == (1600, 1100)
    on_disk = json.loads(paths.json.read_text())
    assert validate(on_disk, load_schema()) == []
    md = paths.markdown.read_text()
    assert md.startswith("# A/B test report: exp")
    assert "## Verdict: CONTINUE" in md and f"![A/B test report]({paths.png.name})" in md
    assert "| high-volatility | baseline-predictor |" in md
    assert report_stem(tmp_path, when) == "advanced_ab_test_analysis_20260102_030405_2"


def test_a_fault_run_adds_the_timeline_everywhere(tmp_path: Path) -> None:
    report = synthetic_report(fault_run=True)
    assert validate(report, load_schema()) == []
    assert timeline_eventful(report)
    summary = report["timeline"]["summary"]
    assert summary["breaker_opened"] == 2 and summary["fallbacks"] > 0
    assert report["fault"]["passed"] is False  # the synthetic run had client failures
    failed = [c["name"] for c in report["fault"]["checks"] if not c["passed"]]
    assert failed == ["client success 100%"]
    paths = write_reports(report, tmp_path, datetime(2026, 1, 2, 3, 4, 5))
    assert png_size(paths.png) == (1600, 1500)  # one more row: the timeline
    md = paths.markdown.read_text()
    assert "## Fault injection: `error-rate=0.3` on enhanced-predictor" in md
    assert "**Expected outcome NOT observed**" in md
    assert "| rollout rolled back | yes | ✅ | at 2.00 s, statistics: guardrail_harmed;" in md
    assert "## Timeline" in md
    assert "| 0.90 | breaker enhanced-predictor: closed → open (5 consecutive failures) |" in md
    assert "| -0.30 | fault (config) on enhanced-predictor: error rate 0.3, +0 ms |" in md
    assert md.index("## Fault injection") < md.index("## Timeline") < md.index("## Models")


def test_a_quiet_timeline_leaves_the_plain_report_as_it_was(tmp_path: Path) -> None:
    report = synthetic_report()
    report["timeline"] = {
        "weights": [{"t_s": -0.2, "weights": {BASE: 70.0, CAND: 30.0}}],
        "breaker": [],
        "rollout": [],
        "faults": [],
        "summary": {"fallbacks": 0},
    }
    assert not timeline_eventful(report)
    paths = write_reports(report, tmp_path, datetime(2026, 1, 2, 3, 4, 5))
    assert png_size(paths.png) == (1600, 1100)
    assert "Timeline" not in paths.markdown.read_text()
    report["timeline"]["weights"].append({"t_s": 1.0, "weights": {BASE: 100.0, CAND: 0.0}})
    assert timeline_eventful(report)  # a weight change is worth showing even without a fault
