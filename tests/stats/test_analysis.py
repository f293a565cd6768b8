import json
from collections.abc import Mapping

import numpy as np
import pytest

from abgate.stats import (
    AnalysisConfig,
    ArmSummary,
    ExperimentAnalysis,
    Moments,
    Proportion,
    Reason,
    SequentialState,
    Verdict,
    analyze_experiment,
    sequential_path,
)
from abgate.stats.multiplicity import holm_adjust

CONFIG = AnalysisConfig(bootstrap_resamples=400)
WEIGHTS = {"baseline": 70.0, "enhanced": 30.0}
LATENCY = np.random.default_rng(99).gamma(4.0, 3.0, 3000)


def _arm(
    assigned: int,
    accuracy: float,
    *,
    error_rate: float = 0.0,
    latency_factor: float = 1.0,
    scored: int | None = None,
) -> ArmSummary:
    scored = assigned if scored is None else scored
    returns = Moments.from_values(np.random.default_rng(assigned).normal(0.0, 0.01, 50))
    return ArmSummary(
        assignments=assigned,
        accuracy=Proportion(round(accuracy * scored), scored),
        errors=Proportion(round(error_rate * assigned), assigned),
        returns=returns,
        latency_ms=LATENCY * latency_factor,
    )


def _analyze(
    baseline: ArmSummary,
    enhanced: ArmSummary,
    states: Mapping[str, SequentialState] | None = None,
) -> ExperimentAnalysis:
    arms = {"baseline": baseline, "enhanced": enhanced}
    return analyze_experiment(
        arms, WEIGHTS, CONFIG, baseline="baseline", rng=np.random.default_rng(1), states=states
    )


def test_promote() -> None:
    result = _analyze(_arm(7000, 0.50), _arm(3000, 0.55))
    assert result.decision.verdict is Verdict.PROMOTE
    assert result.decision.candidate == "enhanced"
    (comparison,) = result.comparisons
    assert comparison.sequential.lower > 0
    assert all(g.status == "non_inferior" for g in comparison.guardrails)


def test_rollback_on_worse_accuracy() -> None:
    result = _analyze(_arm(7000, 0.50), _arm(3000, 0.44))
    assert result.decision.verdict is Verdict.ROLLBACK
    assert result.decision.reasons == ("primary_worse:enhanced",)


def test_rollback_on_slow_latency_despite_better_accuracy() -> None:
    result = _analyze(_arm(7000, 0.50), _arm(3000, 0.55, latency_factor=1.5))
    assert result.decision.verdict is Verdict.ROLLBACK
    assert result.decision.reasons == ("guardrail_harmed:enhanced:latency_p95",)


def test_rollback_on_errors() -> None:
    result = _analyze(_arm(7000, 0.50), _arm(3000, 0.50, error_rate=0.05))
    assert result.decision.verdict is Verdict.ROLLBACK
    assert "guardrail_harmed:enhanced:error_rate" in result.decision.reasons


def test_invalid_on_sample_ratio_mismatch() -> None:
    result = _analyze(_arm(7600, 0.50), _arm(2400, 0.60))
    assert result.decision.verdict is Verdict.INVALID
    assert not result.srm.healthy


def test_continue_early_with_samples_needed_that_shrink_as_data_arrive() -> None:
    early = _analyze(_arm(420, 0.50), _arm(180, 0.51))
    later = _analyze(_arm(1400, 0.50), _arm(600, 0.51))
    for result in (early, later):
        assert result.decision.verdict is Verdict.CONTINUE
    needed_early, needed_later = early.decision.samples_needed, later.decision.samples_needed
    assert needed_early is not None and needed_later is not None
    assert needed_early > needed_later > 0
    assert "primary_inconclusive:enhanced" in early.decision.reasons


def test_continue_in_burn_in_and_with_no_data() -> None:
    result = _analyze(_arm(70, 0.5), _arm(30, 0.6))
    assert result.decision.verdict is Verdict.CONTINUE
    assert result.comparisons[0].sequential.reason is Reason.BURN_IN
    assert "burn_in:enhanced" in result.decision.reasons
    empty = ArmSummary(assignments=0, accuracy=Proportion(0, 0))
    result = _analyze(empty, empty)
    assert result.decision.verdict is Verdict.CONTINUE
    # Strict JSON even with unbounded intervals and empty arms.
    json.dumps(result.to_dict(), allow_nan=False)


def test_large_experiment_without_effect_reports_mde_reached() -> None:
    result = _analyze(_arm(70_000, 0.50), _arm(30_000, 0.50))
    assert result.decision.verdict is Verdict.CONTINUE
    assert "mde_reached:enhanced" in result.decision.reasons
    assert result.decision.samples_needed is None


def test_states_carry_across_looks_like_sequential_path() -> None:
    looks = [(_arm(2100, 0.50), _arm(900, 0.56)), (_arm(4200, 0.50), _arm(1800, 0.50))]
    first = _analyze(*looks[0])
    second = _analyze(*looks[1], states=first.states())
    path = sequential_path(
        [(e.accuracy, b.accuracy) for b, e in looks],
        alpha=CONFIG.alpha,
        n_star=CONFIG.n_star,
        burn_in=CONFIG.burn_in,
    )
    assert second.states()["enhanced"] == path[-1]
    # The second look alone shows no effect; the running p-value remembers the first.
    fresh = _analyze(*looks[1])
    assert second.comparisons[0].sequential.p_value < fresh.comparisons[0].sequential.p_value


def test_states_made_with_another_config_are_rejected() -> None:
    first = _analyze(_arm(2100, 0.50), _arm(900, 0.52))
    arms = {"baseline": _arm(4200, 0.5), "enhanced": _arm(1800, 0.5)}
    with pytest.raises(ValueError, match="another config"):
        analyze_experiment(
            arms, WEIGHTS, AnalysisConfig(alpha=0.01), baseline="baseline",
            rng=np.random.default_rng(0), states=first.states(),
        )  # fmt: skip


def test_abn_uses_holm_across_candidates() -> None:
    arms = {
        "baseline": _arm(5000, 0.50),
        "a": _arm(2500, 0.53),
        "b": _arm(2500, 0.55),
    }
    weights = {"baseline": 2.0, "a": 1.0, "b": 1.0}
    result = analyze_experiment(
        arms, weights, CONFIG, baseline="baseline", rng=np.random.default_rng(3)
    )
    raw = [c.sequential.p_value for c in result.comparisons]
    adjusted = [c.sequential_p_adjusted for c in result.comparisons]
    assert tuple(adjusted) == holm_adjust(raw)
    fixed = holm_adjust([c.accuracy_ztest.p_value for c in result.comparisons])
    assert tuple(c.accuracy_p_adjusted for c in result.comparisons) == fixed
    assert [c.candidate for c in result.comparisons] == ["a", "b"]
    assert result.decision.verdict is Verdict.PROMOTE and result.decision.candidate == "b"


def test_same_seed_same_analysis_and_json_round_trip() -> None:
    a = _analyze(_arm(700, 0.50), _arm(300, 0.52))
    b = _analyze(_arm(700, 0.50), _arm(300, 0.52))
    assert a.to_dict() == b.to_dict()
    data = json.loads(json.dumps(a.to_dict(), allow_nan=False))
    assert data["decision"]["verdict"] == a.decision.verdict.value
    assert data["config"]["n_star"] == CONFIG.n_star


def test_caller_mistakes_raise() -> None:
    arms = {"baseline": _arm(700, 0.5), "enhanced": _arm(300, 0.5)}
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="baseline"):
        analyze_experiment(arms, WEIGHTS, baseline="control", rng=rng)
    with pytest.raises(ValueError, match="weights"):
        analyze_experiment(arms, {"baseline": 1.0}, baseline="baseline", rng=rng)
    with pytest.raises(ValueError, match="at least one candidate"):
        analyze_experiment(
            {"baseline": arms["baseline"]}, {"baseline": 1.0}, baseline="baseline", rng=rng
        )
