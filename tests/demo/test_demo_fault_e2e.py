"""``--candidate-fault`` end to end: a real ``abgate serve`` child with a broken candidate.

The gateway's fault injector is not seeded from the demo, so each run draws its own failures.
The request counts are chosen so that the expected outcome is all but certain anyway: at 30 %
errors the error-rate guardrail misses after 400 requests with probability below 1e-4 (binomial
tail; the breaker only makes it surer), and a candidate that is down from request 50 on fails
every call after it.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from abgate.cli.demo import demo_command
from abgate.report.schema import load_schema, validate

pytestmark = pytest.mark.slow
CANDIDATE = "enhanced-predictor"


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def run(registry: Path, out: Path, *args: str) -> tuple[int, str, dict[str, Any]]:
    result = CliRunner().invoke(
        demo_command, [*args, "--seed", "5", "--registry", str(registry), "--out", str(out)]
    )
    reports = sorted(out.glob("*.json"))
    report = json.loads(reports[-1].read_text()) if reports else {}
    return result.exit_code, result.output, report


def test_error_rate_fault_is_absorbed_and_rolled_back(smoke_registry: Path, tmp_path: Path) -> None:
    code, output, report = run(
        smoke_registry, tmp_path, "--scenarios", "400", "--candidate-fault", "error-rate=0.3"
    )
    assert code == 0, output
    assert "Fault injection: error-rate=0.3 on enhanced-predictor" in output
    assert "expected outcome observed" in output
    assert validate(report, load_schema()) == []

    assert report["traffic"]["failures"] == 0  # every failed candidate call had a fallback
    assert report["tally_check"]["agree"] is True
    fault = report["fault"]
    assert fault["passed"] is True and fault["spec"] == "error-rate=0.3"
    status = fault["final_status"]
    assert status["rollout_phase"] == "rolled_back"
    assert status["weights"][CANDIDATE] == 0.0
    timeline = report["timeline"]
    summary = timeline["summary"]
    assert summary["fallbacks"] > 0 or summary["breaker_opened"] > 0
    assert summary["fallbacks"] == sum(m["fallbacks_served"] for m in report["models"])
    rollback = [r for r in timeline["rollout"] if r["action"] == "rollback"]
    assert len(rollback) == 1 and rollback[0]["candidate_weight"] == 0.0
    # usually the error rate; the injector's own overhead can trip the latency guardrail first
    assert "guardrail_harmed:enhanced-predictor:" in rollback[0]["reason"]
    assert timeline["faults"][0] == {
        "t_s": timeline["faults"][0]["t_s"],
        "source": "config",
        "model": CANDIDATE,
        "error_rate": 0.3,
        "latency_ms": 0.0,
        "down": False,
    }
    # a request sent after the rollback is never routed to the candidate, sticky or not
    after = [
        p
        for p in report["predictions"]
        if p["finished_s"] - p["latency_ms"] / 1000 > summary["rolled_back_s"]
    ]
    assert all(p["model"] == "baseline-predictor" for p in after)
    assert all(p["assignment"] in ("hash", "sticky") for p in after)
    # the client-side analysis checks the split against the weights in force per request:
    # below 30 % when some requests were sent after the rollback, 30 % when the load had ended
    # before the controller rolled back (a fast run)
    assert report["verdict"]["srm_healthy"]
    expected = 30.0 * (len(report["predictions"]) - len(after)) / len(report["predictions"])
    assert report["experiment"]["weights"][CANDIDATE] == pytest.approx(expected, abs=0.5)

    files = {p.suffix: p for p in tmp_path.iterdir()}
    assert png_size(files[".png"]) == (1600, 1500)
    md = files[".md"].read_text()
    assert "## Fault injection: `error-rate=0.3` on enhanced-predictor" in md
    assert "## Timeline" in md and "rollout rollback: statistics:" in md


def test_down_after_opens_the_breaker_after_n_requests(
    smoke_registry: Path, tmp_path: Path
) -> None:
    code, output, report = run(
        smoke_registry, tmp_path, "--scenarios", "300", "--candidate-fault", "down-after=50"
    )
    assert code == 0, output
    assert validate(report, load_schema()) == []
    assert report["traffic"]["failures"] == 0
    timeline = report["timeline"]
    summary = timeline["summary"]
    injected = [f for f in timeline["faults"] if f["source"] == "admin"]
    assert [(f["model"], f["down"]) for f in injected] == [(CANDIDATE, True)]
    assert summary["down_injected_after_requests"] >= 50
    assert summary["breaker_first_open_s"] >= summary["down_injected_s"]
    assert summary["breaker_first_open_after_requests"] >= 50
    opened = [b for b in timeline["breaker"] if b["to"] == "open"]
    assert opened and all(b["model"] == CANDIDATE for b in opened)
    before = [p for p in report["predictions"] if p["finished_s"] < summary["down_injected_s"]]
    assert not any(p["assignment"] == "fallback" for p in before)  # healthy until then
    assert report["fault"]["final_status"]["rollout_phase"] == "rolled_back"
    assert report["fault"]["final_status"]["circuits"][CANDIDATE] in ("open", "half_open")
    checks = {c["name"]: c for c in report["fault"]["checks"]}
    assert checks["breaker opened"]["required"] and checks["breaker opened"]["passed"]
