"""Client tallies, fallback attribution and the comparison with the gateway's status."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from abgate.loadgen.client import FeedbackBatch, Outcome, Planned
from abgate.loadgen.scenarios import Regime, Scenario
from abgate.loadgen.tally import ClientTally, compare_tallies, format_check, status_delta


def outcome(
    seq: int,
    model: str | None,
    p: float | None,
    truth: int = 1,
    *,
    how: str = "hash",
    status: int = 200,
    account: str = "a",
    ret: float = 0.01,
) -> Outcome:
    scenario = Scenario(
        seq, "AAPL", "2012-01-03", np.zeros((40, 5), np.float32), truth, ret, Regime.BULL
    )
    return Outcome(
        Planned(seq, f"r{seq}", account, scenario),
        status,
        latency_ms=5.0 + seq,
        finished_s=0.1 * seq,
        model=model,
        version="1" if model else None,
        assignment=how if model else None,
        probability=p,
        error=None if model else "HTTP 503: no model could answer",
    )


def status(variants: dict[str, dict[str, int]]) -> dict[str, Any]:
    return {
        "name": "exp",
        "default": "base",
        "variants": [
            {"model": m, "weight": {"base": 70, "cand": 30}[m], **counts}
            for m, counts in variants.items()
        ],
    }


def filled() -> ClientTally:
    tally = ClientTally()
    tally.record(outcome(0, "base", 0.7, truth=1, account="a"))  # right
    tally.record(outcome(1, "base", 0.2, truth=1, account="a"))  # wrong
    tally.record(outcome(2, "cand", 0.9, truth=0, account="b"))  # wrong
    tally.record(outcome(3, "base", 0.6, truth=1, how="fallback", account="c"))  # right
    tally.record(outcome(4, None, None, status=503))
    return tally


def test_record_counts_per_model_and_failures() -> None:
    tally = filled()
    base, cand = tally.models["base"], tally.models["cand"]
    assert (base.answered, base.fallbacks, base.correct, base.scored) == (3, 1, 2, 3)
    assert (cand.answered, cand.correct) == (1, 0)
    assert (tally.sent, tally.failures, tally.server_errors) == (5, 1, 1)
    assert tally.error_rate == pytest.approx(0.2)
    assert tally.failure_reasons == {"HTTP 503": 1}
    assert [(m, c) for m, c, _ in tally.scored_order] == [
        ("base", True),
        ("base", False),
        ("cand", False),
        ("base", True),
    ]
    assert [t for *_, t in tally.scored_order] == pytest.approx([0.0, 0.1, 0.2, 0.3])
    assert base.regimes[Regime.BULL] == [3, 2]
    assert tally.sticky_summary() == {"accounts": 3, "returning": 1, "switched": 0}


def test_comparison_uses_the_status_difference() -> None:
    tally = filled()
    before = status(
        {
            "base": {"served": 5, "errors": 1, "fallbacks_served": 0, "scored": 4, "correct": 2},
            "cand": {},
        }
    )
    after = status(
        {
            "base": {"served": 9, "errors": 2, "fallbacks_served": 1, "scored": 7, "correct": 4},
            "cand": {"served": 1, "scored": 1},
        }
    )
    check = compare_tallies(tally, before, after)
    assert check.available and check.agree, [r for r in check.rows if not r.agree]
    assert "agree exactly" in format_check(check)

    after_wrong = status(
        {
            "base": {"served": 9, "errors": 2, "fallbacks_served": 1, "scored": 6, "correct": 4},
            "cand": {"served": 1},
        }
    )
    bad = compare_tallies(tally, before, after_wrong)
    assert bad.agree is False
    wrong = {(r.model, r.quantity) for r in bad.rows if not r.agree}
    assert wrong == {("base", "scored"), ("cand", "scored")}
    assert "DISAGREE" in format_check(bad)


def test_comparison_without_a_status_is_not_available() -> None:
    check = compare_tallies(filled(), None, None)
    assert check.available is False and check.agree is None
    assert "skipped" in format_check(check)


def test_feedback_results_are_counted() -> None:
    tally = ClientTally()
    tally.record_feedback(FeedbackBatch(("a", "b", "c"), accepted=2, unknown=("c",)))
    tally.record_feedback(FeedbackBatch(("d",), error="ConnectError"))
    assert (tally.feedback_sent, tally.feedback_accepted) == (4, 2)
    assert (tally.feedback_rejected, tally.feedback_lost) == (1, 1)


def test_status_delta_per_model() -> None:
    before = status({"base": {"assigned": 5}, "cand": {"assigned": 1}})
    after = status({"base": {"assigned": 9}, "cand": {"assigned": 4}})
    assert status_delta(before, after, "assigned") == {"base": 4, "cand": 3}
    assert status_delta(None, after, "assigned") == {"base": 9, "cand": 4}
