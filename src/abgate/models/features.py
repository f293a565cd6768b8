"""Scale-free features computed inside the model from a raw OHLCV window.

Because this module is part of the network, the exported ONNX graph computes the same features
from the same raw bars at serving time: training and serving cannot disagree. Every feature at
day ``t`` uses only bars ``<= t`` (no look-ahead), and only ratios and log-differences of
prices, so the level of a stock's price does not matter.

The longest look-back is :data:`LOOKBACK` days, so a window of ``W`` bars yields features for its
last ``W - LOOKBACK`` days; the model uses the last ``seq_len`` of them.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

LOOKBACK = 30
FEATURE_NAMES: tuple[str, ...] = (
    "ret_1d",
    "ret_5d",
    "ret_10d",
    "ret_20d",
    "vol_10d",
    "vol_20d",
    "range_hl",
    "gap_open",
    "body_oc",
    "upper_wick",
    "lower_wick",
    "volume_z_20d",
    "volume_chg_1d",
    "ma_ratio_5d",
    "ma_ratio_10d",
    "ma_ratio_30d",
    "rsi_14d",
    "pos_in_range_10d",
)
_EPS = 1e-8


def _rolling_mean(x: Tensor, k: int) -> Tensor:
    """Mean over the last ``k`` values ending at each position ``>= k-1`` (shape [B, T-k+1])."""
    c = torch.cumsum(x, dim=1)
    zero = torch.zeros_like(c[:, :1])
    c = torch.cat([zero, c], dim=1)
    return (c[:, k:] - c[:, :-k]) / k


def _rolling_extreme(x: Tensor, k: int, largest: bool) -> Tensor:
    """Rolling max/min over ``k`` values via stacked shifted slices (exports to plain ONNX)."""
    t = x.shape[1]
    shifted = torch.stack([x[:, i : t - k + 1 + i] for i in range(k)], dim=-1)
    return shifted.amax(dim=-1) if largest else shifted.amin(dim=-1)


class MarketFeatures(nn.Module):
    """``[B, W, 5]`` raw bars → ``[B, steps, F]`` features for the last ``steps`` days."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps

    @property
    def num_features(self) -> int:
        return len(FEATURE_NAMES)

    def forward(self, bars: Tensor) -> Tensor:
        s = self.steps
        # Rolling moments via cumulative sums cancel badly in float32 (prices near 100, log
        # volumes near 17), and PyTorch and ONNX Runtime would round differently; float64 keeps
        # both exact to ~1e-12 at negligible cost for a few hundred numbers per window.
        x = bars.to(torch.float64)
        x = torch.cat([x[..., :4] / x[:, -1:, 3:4], x[..., 4:]], dim=-1)
        o, h, lo, c, v = x.unbind(dim=-1)
        lc, lo_, lh, lop = torch.log(c), torch.log(lo), torch.log(h), torch.log(o)
        lv = torch.log1p(v)
        r1 = lc[:, 1:] - lc[:, :-1]  # r1[:, i] is the return into day i+1

        def last(x: Tensor) -> Tensor:
            return x[:, -s:]

        def ret(k: int) -> Tensor:
            return last(lc[:, k:] - lc[:, :-k])

        def vol(k: int) -> Tensor:
            m = _rolling_mean(r1, k)
            m2 = _rolling_mean(r1 * r1, k)
            return last(torch.sqrt(torch.clamp(m2 - m * m, min=0.0) + _EPS))

        def ma_ratio(k: int) -> Tensor:
            return last(c[:, k - 1 :] / _rolling_mean(c, k)) - 1.0

        lv_mean = _rolling_mean(lv, 20)
        lv_sd = torch.sqrt(torch.clamp(_rolling_mean(lv * lv, 20) - lv_mean**2, min=0.0) + 1e-4)
        up = torch.clamp(r1, min=0.0)
        rsi = _rolling_mean(up, 14) / (_rolling_mean(torch.abs(r1), 14) + _EPS) - 0.5
        hi10 = _rolling_extreme(h, 10, largest=True)
        lo10 = _rolling_extreme(lo, 10, largest=False)
        pos10 = (c[:, 9:] - lo10) / (hi10 - lo10 + _EPS) - 0.5
        top = torch.maximum(lop, lc)
        bottom = torch.minimum(lop, lc)
        feats = [
            ret(1),
            ret(5),
            ret(10),
            ret(20),
            vol(10),
            vol(20),
            last(lh - lo_),
            last(lop[:, 1:] - lc[:, :-1]),
            last(lc - lop),
            last(lh - top),
            last(bottom - lo_),
            last((lv[:, 19:] - lv_mean) / lv_sd),
            last(lv[:, 1:] - lv[:, :-1]),
            ma_ratio(5),
            ma_ratio(10),
            ma_ratio(30),
            last(rsi),
            last(pos10),
        ]
        return torch.stack(feats, dim=-1).to(torch.float32)
