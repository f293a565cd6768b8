from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from abgate.models.config import BASELINE, ENHANCED
from abgate.models.features import FEATURE_NAMES, LOOKBACK, MarketFeatures
from abgate.models.network import DirectionModel, LSTMHead, count_parameters


@pytest.mark.parametrize(("cfg", "expected"), [(BASELINE, 36_121), (ENHANCED, 139_841)])
def test_seed_parameter_counts_at_350_features(cfg: object, expected: int) -> None:
    head = LSTMHead(350, cfg.hidden_size, cfg.num_layers, cfg.dropout)  # type: ignore[attr-defined]
    assert count_parameters(head) == expected


def test_model_parameter_count_is_the_lstm_and_head_only() -> None:
    model = DirectionModel(ENHANCED)
    f = len(FEATURE_NAMES)
    lstm = 4 * (64 * f + 64 * 64 + 2 * 64) + 4 * (64 * 64 * 2 + 2 * 64)
    assert count_parameters(model) == lstm + 65  # normaliser buffers are not parameters


def random_windows(rng: np.random.Generator, batch: int, window: int = 40) -> torch.Tensor:
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (batch, window)), axis=1))
    spread = np.abs(rng.normal(0, 0.01, (batch, window, 2)))
    opens = close * np.exp(rng.normal(0, 0.005, (batch, window)))
    high = np.maximum(opens, close) * (1 + spread[..., 0])
    low = np.minimum(opens, close) * (1 - spread[..., 1])
    vol = rng.uniform(1e5, 1e7, (batch, window))
    return torch.from_numpy(np.stack([opens, high, low, close, vol], -1).astype(np.float32))


@settings(max_examples=30, deadline=None)
@given(cut=st.integers(min_value=LOOKBACK, max_value=38), seed=st.integers(0, 2**16))
def test_features_never_look_ahead(cut: int, seed: int) -> None:
    """Changing bars after day ``cut`` never changes any feature of days ``<= cut``."""
    rng = np.random.default_rng(seed)
    feats = MarketFeatures(steps=10)
    x = random_windows(rng, 2)
    y = x.clone()
    y[:, cut + 1 :, :] *= torch.from_numpy(rng.uniform(0.5, 2.0, (2, 40 - cut - 1, 5))).float()
    # feature step k corresponds to window day 30 + k
    k = cut - 30 + 1
    a, b = feats(x), feats(y)
    torch.testing.assert_close(a[:, :k], b[:, :k], rtol=0, atol=1e-6)
    if cut < 39:
        assert not torch.allclose(a[:, k:], b[:, k:])  # the later days did change


def test_features_are_scale_free() -> None:
    """Multiplying all prices by a constant (a stock split) leaves the features unchanged."""
    x = random_windows(np.random.default_rng(3), 4)
    y = x.clone()
    y[..., :4] *= 7.0
    torch.testing.assert_close(MarketFeatures(10)(x), MarketFeatures(10)(y), rtol=0, atol=1e-5)


def test_normaliser_standardises_training_features() -> None:
    model = DirectionModel(BASELINE)
    x = random_windows(np.random.default_rng(4), 256)
    model.fit_normaliser(x)
    z = ((model.features(x) - model.feat_mean) / model.feat_std).reshape(-1, len(FEATURE_NAMES))
    torch.testing.assert_close(z.mean(0), torch.zeros(len(FEATURE_NAMES)), atol=1e-4, rtol=0)
    torch.testing.assert_close(z.std(0), torch.ones(len(FEATURE_NAMES)), atol=1e-3, rtol=0)


def test_window_too_short_is_refused() -> None:
    from dataclasses import replace

    with pytest.raises(ValueError, match="shorter than look-back"):
        DirectionModel(replace(BASELINE, window=35))
