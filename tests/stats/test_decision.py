import math

import pytest

from abgate.stats import Reason, SequentialState, Verdict, decide, update
from abgate.stats.decision import CandidateEvidence
from abgate.stats.guardrails import GuardrailResult, GuardrailStatus
from abgate.stats.srm import srm_check

HEALTHY = srm_check([7000, 3000], [70, 30])
BROKEN = srm_check([7600, 2400], [70, 30])


def _primary(estimate: float, variance: float = 1e-4, n: int = 5000) -> SequentialState:
    return update(SequentialState.start(0.05, 5000, 200), estimate, variance, n)


def _guard(status: GuardrailStatus, name: str = "error_rate") -> GuardrailResult:
    return GuardrailResult(name, status, 0.0, -1.0, 1.0, 0.01, "test", None)


OK = (_guard(GuardrailStatus.NON_INFERIOR), _guard(GuardrailStatus.NON_INFERIOR, "latency_p95"))


def _evidence(
    name: str,
    primary: SequentialState,
    guardrails: tuple[GuardrailResult, ...] = OK,
    needed: int | None = None,
) -> CandidateEvidence:
    return CandidateEvidence(name, primary, primary.p_value, guardrails, needed)


def test_promote_when_better_and_every_guardrail_non_inferior() -> None:
    decision = decide(HEALTHY, [_evidence("enhanced", _primary(0.06))])
    assert decision.verdict is Verdict.PROMOTE and decision.candidate == "enhanced"
    assert decision.samples_needed is None
    assert decision.reasons == ("primary_better:enhanced", "guardrails_non_inferior:enhanced")


def test_rollback_when_primary_significantly_worse() -> None:
    decision = decide(HEALTHY, [_evidence("enhanced", _primary(-0.06))])
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.reasons == ("primary_worse:enhanced",)


def test_rollback_when_a_guardrail_is_harmed_even_if_primary_is_better() -> None:
    guards = (_guard(GuardrailStatus.NON_INFERIOR), _guard(GuardrailStatus.HARMED, "latency_p95"))
    decision = decide(HEALTHY, [_evidence("enhanced", _primary(0.06), guards)])
    assert decision.verdict is Verdict.ROLLBACK
    assert decision.reasons == ("guardrail_harmed:enhanced:latency_p95",)


def test_invalid_beats_everything() -> None:
    decision = decide(BROKEN, [_evidence("enhanced", _primary(-0.06))])
    assert decision.verdict is Verdict.INVALID and decision.reasons == ("srm_mismatch",)


def test_continue_when_better_but_a_guardrail_is_inconclusive() -> None:
    guards = (_guard(GuardrailStatus.INCONCLUSIVE), _guard(GuardrailStatus.NON_INFERIOR))
    decision = decide(HEALTHY, [_evidence("enhanced", _primary(0.06), guards, needed=1234)])
    assert decision.verdict is Verdict.CONTINUE
    assert decision.samples_needed == 1234
    assert "guardrail_inconclusive:enhanced:error_rate" in decision.reasons
    assert "primary_better:enhanced" in decision.reasons


def test_continue_when_primary_inconclusive_reports_the_largest_need() -> None:
    decision = decide(
        HEALTHY,
        [_evidence("a", _primary(0.001), needed=500), _evidence("b", _primary(0.002), needed=900)],
    )
    assert decision.verdict is Verdict.CONTINUE and decision.samples_needed == 900
    assert decision.reasons == ("primary_inconclusive:a", "primary_inconclusive:b")


def test_continue_during_burn_in() -> None:
    state = update(SequentialState.start(0.05, 5000, 200), 0.3, 1e-4, 100)
    assert state.reason is Reason.BURN_IN
    decision = decide(HEALTHY, [_evidence("enhanced", state, needed=None)])
    assert decision.verdict is Verdict.CONTINUE and decision.samples_needed is None
    assert decision.reasons[0] == "burn_in:enhanced"


def test_significance_uses_the_adjusted_p_value() -> None:
    primary = _primary(0.032)  # always-valid p ≈ 0.03
    assert primary.p_value < 0.05 and primary.direction == 1
    assert decide(HEALTHY, [_evidence("enhanced", primary)]).verdict is Verdict.PROMOTE
    evidence = CandidateEvidence("enhanced", primary, min(1.0, 3 * primary.p_value), OK)
    assert evidence.adjusted_p_value > 0.05
    assert decide(HEALTHY, [evidence]).verdict is Verdict.CONTINUE


def test_best_of_several_winners_is_promoted_and_rollback_wins_over_promote() -> None:
    winners = [_evidence("a", _primary(0.05)), _evidence("b", _primary(0.08))]
    assert decide(HEALTHY, winners).candidate == "b"
    mixed = [_evidence("a", _primary(0.08)), _evidence("b", _primary(-0.08))]
    decision = decide(HEALTHY, mixed)
    assert decision.verdict is Verdict.ROLLBACK and decision.candidate == "b"


def test_decide_is_pure_and_validates() -> None:
    evidence = [_evidence("enhanced", _primary(0.06))]
    assert decide(HEALTHY, evidence) == decide(HEALTHY, evidence)
    with pytest.raises(ValueError):
        decide(HEALTHY, [])
    with pytest.raises(ValueError):
        decide(HEALTHY, evidence, alpha=0.0)
    assert math.isfinite(evidence[0].primary.lower)
