"""The live view is a pure function of a snapshot: test its text, not escape codes."""

from __future__ import annotations

import numpy as np
from rich.console import Console

from abgate.demo.snapshot import GatewayLine, ModelRow, ScoredPrediction, Snapshot, VerdictLine
from abgate.demo.view import plain_line, prediction_line, render, split_bar


def rows() -> tuple[ModelRow, ...]:
    return (
        ModelRow(
            "baseline-predictor",
            "baseline",
            162,
            0.704,
            0.7,
            1.0,
            0,
            162,
            84,
            0.443,
            0.595,
            2.1,
            4.5,
            7.9,
        ),
        ModelRow(
            "enhanced-predictor",
            "candidate",
            68,
            0.296,
            0.3,
            0.985,
            1,
            68,
            33,
            0.369,
            0.604,
            2.3,
            5.0,
            9.1,
        ),
    )


def snapshot(**overrides: object) -> Snapshot:
    fields: dict[str, object] = {
        "experiment": "financial-ab-test-experiment",
        "target": "http://127.0.0.1:9000",
        "done": 230,
        "total": 500,
        "elapsed_s": 1.0,
        "failures": 0,
        "models": rows(),
        "recent": (
            ScoredPrediction("baseline-predictor", "AAPL", "2012-03-05", "bull", 1, 0.73),
            ScoredPrediction(
                "enhanced-predictor", "MSFT", "2011-08-08", "high-volatility", 1, 0.41
            ),
        ),
        "verdict": VerdictLine(
            verdict="continue",
            headline="no significant difference in accuracy",
            candidate="enhanced-predictor",
            baseline="baseline-predictor",
            estimate=-0.033,
            lower=-0.21,
            upper=0.15,
            p_value=0.412,
            scored=230,
            burn_in=200,
        ),
    }
    fields.update(overrides)
    return Snapshot(**fields)  # type: ignore[arg-type]


def text_of(renderable: object, width: int = 140) -> str:
    console = Console(record=True, width=width, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_render_shows_every_part_of_the_live_view() -> None:
    text = text_of(render(snapshot()))
    assert "experiment financial-ab-test-experiment · http://127.0.0.1:9000 · running" in text
    assert "230/500 requests · 230 req/s · elapsed 1.0 s · ETA 1.2 s · failures 0" in text
    for expected in (
        "baseline-predictor (baseline)",
        "enhanced-predictor (candidate)",
        "70.4% (70%)",
        "29.6% (30%)",
        "98.5%",
        "51.9% [44.3%, 59.5%]",
        "2.1 / 4.5 / 7.9",
    ):
        assert expected in text, expected
    assert "Ground truth: UP (1) · prediction 0.73 → UP (1) · ✅ correct" in text
    assert "Ground truth: UP (1) · prediction 0.41 → DOWN (0) · ❌ wrong" in text
    assert "Verdict: CONTINUE — no significant difference in accuracy" in text
    assert "always-valid p = 0.412" in text
    assert "always-valid 95% CS [-21.0, +15.0] pts" in text


def test_render_before_any_data() -> None:
    empty = tuple(
        ModelRow(r.name, r.role, 0, 0.0, r.target_share, None, 0, 0, 0, 0.0, 1.0, None, None, None)
        for r in rows()
    )
    text = text_of(render(snapshot(done=0, elapsed_s=0.0, models=empty, recent=(), verdict=None)))
    assert "no scored predictions yet" in text
    assert "waiting for the first analysis" in text
    assert "ETA –" in text


def test_split_bar_marks_the_target() -> None:
    bar = split_bar(rows(), width=10).plain.splitlines()
    assert bar[0] == (
        "actual " + "█" * 7 + "▒" * 3 + "  █ baseline-predictor 70.4% · ▒ enhanced-predictor 29.6%"
    )
    assert bar[1] == "target        ^    baseline-predictor 70% · enhanced-predictor 30%"


def test_prediction_line_in_the_users_words() -> None:
    p = ScoredPrediction("m", "AAPL", "2012-01-03", "bull", 0, 0.2)
    assert prediction_line(p) == (
        "Ground truth: DOWN (0) · prediction 0.20 → DOWN (0) · ✅ correct"
    )


def test_plain_line_for_logs() -> None:
    line = plain_line(snapshot(finished=True))
    assert "\n" not in line
    assert line.startswith("[   1.0s] 230/500 (46%) 230 req/s failures 0")
    assert "baseline-predictor 162 (70.4%/70%) acc 51.9%" in line
    assert "verdict continue (always-valid p=0.412)" in line


def test_snapshot_rate_and_eta() -> None:
    s = snapshot(done=500, elapsed_s=2.0)
    assert s.rate == 250 and s.eta_s == 0.0
    assert snapshot(done=0, elapsed_s=0.0).eta_s is None
    assert np.isclose(snapshot().eta_s or 0, 270 / 230)


def test_a_fault_run_shows_rollout_breakers_and_fallbacks() -> None:
    gateway = GatewayLine(
        fault="error-rate=0.3",
        candidate="enhanced-predictor",
        rollout_phase="rolled_back",
        candidate_weight=0.0,
        circuits=(("baseline-predictor", "closed"), ("enhanced-predictor", "open")),
        fallbacks=42,
        down=True,
    )
    text = text_of(render(snapshot(gateway=gateway)), width=200)
    assert (
        "Fault error-rate=0.3 on enhanced-predictor (now down) · rollout rolled_back, candidate "
        "weight 0% · breaker baseline-predictor closed, enhanced-predictor open · fallbacks 42"
    ) in text
    assert plain_line(snapshot(gateway=gateway)).endswith(
        "| rollout rolled_back (candidate 0%) breaker baseline-predictor closed, "
        "enhanced-predictor open fallbacks 42 [candidate down]"
    )
    before = GatewayLine("latency-ms=200", "enhanced-predictor", None, None, (), 0)
    assert "rollout –, candidate weight – · breaker  · fallbacks 0" in text_of(
        render(snapshot(gateway=before)), width=200
    )
    assert "Fault" not in text_of(render(snapshot()))  # a plain run looks as before
    assert "rollout" not in plain_line(snapshot())
