"""Which arm a request was routed to, and the sufficient statistics handed to the engine."""

from __future__ import annotations

import pytest

from abgate.loadgen.arms import ExperimentArms, arm_summaries, assignments

from .test_loadgen_tally import filled, status

ARMS = ExperimentArms("exp", "base", {"base": 70, "cand": 30})


def test_fallbacks_are_attributed_to_the_single_candidate() -> None:
    routed, rescued = assignments(filled(), ARMS)
    assert routed == {"base": 2, "cand": 2}
    assert rescued == {"base": 0, "cand": 1}
    arms = arm_summaries(filled(), ARMS)
    assert list(arms) == ["base", "cand"]
    assert arms["cand"].errors.successes == 1 and arms["cand"].errors.trials == 2
    assert arms["base"].accuracy.successes == 2 and arms["base"].accuracy.trials == 3
    # long at 0.7 and 0.6 (+1%), short at 0.2 (−1%), each minus 5 bps
    assert arms["base"].returns.n == 3
    assert arms["base"].returns.mean == pytest.approx((0.01 - 0.01 + 0.01) / 3 - 0.0005)
    assert arms["base"].latency_ms.tolist() == [5.0, 6.0, 8.0]


def test_the_gateways_routing_count_wins_when_known() -> None:
    # The gateway routed 3 to base and 3 to cand: cand answered 1 itself, so 2 of its requests
    # failed (one rescued by base's fallback, one lost); base answered its 2 itself.
    routed, failed = assignments(filled(), ARMS, {"base": 2, "cand": 3})
    assert routed == {"base": 2, "cand": 3}
    assert failed == {"base": 0, "cand": 2}
    arms = arm_summaries(filled(), ARMS, {"base": 2, "cand": 3})
    assert (arms["cand"].errors.successes, arms["cand"].errors.trials) == (2, 3)
    assert arms["cand"].assignments == 3


def test_arms_from_a_gateway_status() -> None:
    arms = ExperimentArms.from_status(status({"base": {}, "cand": {}}))
    assert arms.baseline == "base" and arms.candidates == ["cand"]
    assert arms.target_share("cand") == pytest.approx(0.3)
    no_default = {**status({"base": {}, "cand": {}}), "default": None}
    assert ExperimentArms.from_status(no_default).baseline == "base"  # the heaviest arm
    with pytest.raises(ValueError, match="fewer than two"):
        ExperimentArms.from_status({"name": "x", "variants": [{"model": "a", "weight": 1}]})
