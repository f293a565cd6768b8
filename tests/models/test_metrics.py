from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from abgate.models.metrics import evaluate, roc_auc, strategy_returns


def test_roc_auc_matches_mann_whitney_with_ties() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.round(rng.random(300) + 0.2 * y, 1)  # rounding creates ties
    u = mannwhitneyu(s[y == 1], s[y == 0]).statistic
    assert roc_auc(y, s) == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()), abs=1e-12)
    assert roc_auc(np.ones(3, dtype=int), np.array([0.1, 0.2, 0.3])) is None


def test_evaluate_by_hand() -> None:
    p = np.array([0.9, 0.2, 0.7, 0.4])
    y = np.array([1, 0, 0, 1])
    r = np.array([0.01, -0.02, -0.01, 0.03])
    m = evaluate(p, y, r, cost_bps=5)
    assert m.accuracy == 0.5
    assert m.balanced_accuracy == 0.5
    assert m.f1 == pytest.approx(0.5)
    assert m.brier == pytest.approx(np.mean([0.01, 0.04, 0.49, 0.36]))
    # long, short, long, short: +1% +2% -1% -3%, minus 5 bps each
    assert m.strategy_mean_return == pytest.approx((0.01 + 0.02 - 0.01 - 0.03) / 4 - 0.0005)
    assert m.buy_and_hold_mean_return == pytest.approx(0.0025)
    np.testing.assert_allclose(strategy_returns(p, r, 0), [0.01, 0.02, -0.01, -0.03])


def test_evaluate_rejects_mismatch() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        evaluate(np.ones(2), np.ones(3, dtype=int), np.ones(2))
