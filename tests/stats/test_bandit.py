"""Thompson allocation and inverse-propensity estimates, by seeded simulation."""

from __future__ import annotations

import numpy as np
import pytest

from abgate.stats.bandit import IPWArm, ipw_arms, thompson_shares

TRUE = {"a": 0.50, "b": 0.55}


def bandit_run(seed: int, batches: int = 20, per: int = 50, floor: float = 0.05) -> dict:
    """Batched Thompson sampling as the gateway runs it; returns per-arm estimates."""
    rng = np.random.default_rng(seed)
    wins = {k: 0 for k in TRUE}
    losses = {k: 0 for k in TRUE}
    arms, props, ys, shares_seen = [], [], [], []
    for _ in range(batches):
        shares = thompson_shares(wins, losses, min_share=floor, rng=rng, draws=1000)
        shares_seen.append(shares)
        names = list(shares)
        picks = rng.choice(len(names), size=per, p=[shares[n] for n in names])
        for j in picks:
            name = names[j]
            y = int(rng.random() < TRUE[name])
            arms.append(name)
            props.append(shares[name])
            ys.append(y)
            wins[name] += y
            losses[name] += 1 - y
    a, y = np.array(arms), np.array(ys)
    est = ipw_arms(a, np.array(props), y)
    return {
        "ht": {n: est[n].horvitz_thompson for n in TRUE},
        "naive": {n: float(y[a == n].mean()) for n in TRUE},
        "share": {n: float((a == n).mean()) for n in TRUE},
        "min_share": min(min(s.values()) for s in shares_seen),
    }


@pytest.fixture(scope="module")
def runs() -> list[dict]:
    return [bandit_run(seed) for seed in range(300)]


def test_bandit_concentrates_on_the_better_arm_but_keeps_the_floor(runs: list[dict]) -> None:
    assert np.mean([r["share"]["b"] for r in runs]) > 0.65
    assert min(r["min_share"] for r in runs) >= 0.05 - 1e-12


def test_ipw_is_unbiased_where_the_naive_mean_is_not(runs: list[dict]) -> None:
    for arm, truth in TRUE.items():
        ht = np.array([r["ht"][arm] for r in runs])
        assert abs(ht.mean() - truth) < 3 * ht.std(ddof=1) / np.sqrt(len(ht))
    # The arm that falls behind is under-sampled just after unlucky streaks: its naive mean is
    # biased low (the classic adaptive-sampling bias IPW removes).
    naive = np.array([r["naive"]["a"] for r in runs])
    assert naive.mean() < TRUE["a"] - 3 * naive.std(ddof=1) / np.sqrt(len(naive))


def test_shares_sum_to_one_and_respect_floor() -> None:
    rng = np.random.default_rng(0)
    shares = thompson_shares(
        {"x": 900, "y": 10, "z": 5}, {"x": 100, "y": 990, "z": 995}, min_share=0.1, rng=rng
    )
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["y"] == pytest.approx(0.1) and shares["x"] == pytest.approx(0.8)
    even = thompson_shares({"x": 0, "y": 0}, {"x": 0, "y": 0}, min_share=0.0, rng=rng)
    assert even["x"] == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError, match="impossible"):
        thompson_shares({"x": 0, "y": 0}, {"x": 0, "y": 0}, min_share=0.6, rng=rng)


def test_ipw_statistics_add_and_validate() -> None:
    a = ipw_arms(np.array(["x", "y", "x"]), np.array([0.5, 0.5, 0.25]), np.array([1, 0, 1]))
    assert a["x"].sum_y_over_p == pytest.approx(6.0) and a["x"].n_total == 3
    assert a["x"].hajek == pytest.approx(6.0 / 6.0)
    merged = a["x"] + a["x"]
    assert merged.horvitz_thompson == pytest.approx(a["x"].horvitz_thompson)
    assert IPWArm(0, 0, 0, 0).horvitz_thompson is None
    with pytest.raises(ValueError, match="propensities"):
        ipw_arms(np.array(["x"]), np.array([0.0]), np.array([1]))
