"""Scale-free features computed inside the model from a raw OHLCV window.

Because this module is part of the network, the exported ONNX graph computes the same features
from the same raw bars at serving time: training and serving cannot disagree. Every feature at
day ``t`` uses only bars ``<= t`` (no look-ahead), and only ratios and log-differences of
prices, so the level of a stock's price does not matter.

Rolling means, k-day differences and "value at day t" are all linear in the input series, so
each is one matrix product with a constant ``[W, steps]`` matrix built once here. That keeps
the exported graph to a few dozen operators (ONNX Runtime spends ~1 µs per operator on inputs
this small), instead of hundreds of slices.

The longest look-back is :data:`LOOKBACK` days, so a window of ``W`` bars yields features for its
last ``W - LOOKBACK`` days; the model uses the last ``steps`` of them.
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
    "range_hl",
    "gap_open",
    "body_oc",
    "volume_chg_1d",
    "vol_10d",
    "vol_20d",
    "upper_wick",
    "lower_wick",
    "volume_z_20d",
    "ma_ratio_5d",
    "ma_ratio_10d",
    "ma_ratio_30d",
    "rsi_14d",
    "pos_in_range_10d",
)
_EPS = 1e-8
# Series of log prices/volume, in this order, for the linear features.
_LC, _LH, _LL, _LO, _LV = range(5)
# (name, [(series, lag, sign), ...]): feature = Σ sign · series[t - lag]
_LINEAR: tuple[tuple[str, tuple[tuple[int, int, float], ...]], ...] = (
    ("ret_1d", ((_LC, 0, 1.0), (_LC, 1, -1.0))),
    ("ret_5d", ((_LC, 0, 1.0), (_LC, 5, -1.0))),
    ("ret_10d", ((_LC, 0, 1.0), (_LC, 10, -1.0))),
    ("ret_20d", ((_LC, 0, 1.0), (_LC, 20, -1.0))),
    ("range_hl", ((_LH, 0, 1.0), (_LL, 0, -1.0))),
    ("gap_open", ((_LO, 0, 1.0), (_LC, 1, -1.0))),
    ("body_oc", ((_LC, 0, 1.0), (_LO, 0, -1.0))),
    ("volume_chg_1d", ((_LV, 0, 1.0), (_LV, 1, -1.0))),
)


def _days(window: int, steps: int) -> range:
    return range(window - steps, window)


def linear_matrix(window: int, steps: int) -> Tensor:
    """``[5·W, F_lin·steps]``: flattened log series → the linear features."""
    m = torch.zeros(5 * window, len(_LINEAR) * steps, dtype=torch.float64)
    for f, (_, terms) in enumerate(_LINEAR):
        for s, t in enumerate(_days(window, steps)):
            for series, lag, sign in terms:
                m[series * window + t - lag, f * steps + s] += sign
    return m


def rolling_matrix(window: int, steps: int, ks: tuple[int, ...]) -> Tensor:
    """``[W, len(ks)·steps]``: series → mean over the last k values, for each k and day."""
    m = torch.zeros(window, len(ks) * steps, dtype=torch.float64)
    for i, k in enumerate(ks):
        for s, t in enumerate(_days(window, steps)):
            m[t - k + 1 : t + 1, i * steps + s] = 1.0 / k
    return m


def select_matrix(window: int, steps: int) -> Tensor:
    """``[W, steps]``: series → its value on each of the last ``steps`` days."""
    m = torch.zeros(window, steps, dtype=torch.float64)
    for s, t in enumerate(_days(window, steps)):
        m[t, s] = 1.0
    return m


def diff_matrix(window: int) -> Tensor:
    """``[W, W]``: series → one-day difference (0 on the first day, which no feature reads)."""
    m = torch.zeros(window, window, dtype=torch.float64)
    for t in range(1, window):
        m[t, t] = 1.0
        m[t - 1, t] = -1.0
    return m


class MarketFeatures(nn.Module):
    """``[B, W, 5]`` raw bars → ``[B, steps, F]`` features for the last ``steps`` days."""

    def __init__(self, steps: int, window: int = 40):
        super().__init__()
        if window < LOOKBACK + steps:
            raise ValueError(f"window {window} < look-back {LOOKBACK} + steps {steps}")
        self.steps = steps
        self.window = window
        s = steps
        # Constant operators (not learned, not saved: rebuilt from window and steps).
        self.lin: Tensor
        self.roll_ret: Tensor
        self.roll_vol: Tensor
        self.roll_px: Tensor
        self.sel: Tensor
        self.diff: Tensor
        self.range_idx: Tensor
        self.register_buffer("lin", linear_matrix(window, s), persistent=False)
        self.register_buffer("roll_ret", rolling_matrix(window, s, (10, 20, 14)), persistent=False)
        self.register_buffer("roll_vol", rolling_matrix(window, s, (20,)), persistent=False)
        self.register_buffer("roll_px", rolling_matrix(window, s, (5, 10, 30)), persistent=False)
        self.register_buffer("sel", select_matrix(window, s), persistent=False)
        self.register_buffer("diff", diff_matrix(window), persistent=False)
        idx = torch.tensor([[t - 9 + j for j in range(10)] for t in _days(window, s)])
        self.register_buffer("range_idx", idx.reshape(-1), persistent=False)

    @property
    def num_features(self) -> int:
        return len(FEATURE_NAMES)

    def forward(self, bars: Tensor) -> Tensor:
        s = self.steps
        b = bars.shape[0]
        # float64: rolling variances by E[x²] − E[x]² cancel badly in float32, and PyTorch and
        # ONNX Runtime would round differently. Prices are divided by the last close, which makes
        # every price feature scale-free by construction.
        x = bars.to(torch.float64)
        px = x[..., :4] / x[:, -1:, 3:4]  # [B, W, 4]
        logs = torch.cat([torch.log(px), torch.log1p(x[..., 4:5])], dim=-1)  # lo, lh, ll, lc, lv
        lo, lh, ll, lc, lv = logs.unbind(dim=-1)
        series = torch.stack([lc, lh, ll, lo, lv], dim=1)  # [B, 5, W]
        linear = (series.reshape(b, -1) @ self.lin).reshape(b, len(_LINEAR), s)

        r1 = lc @ self.diff  # [B, W]
        ret_stats = torch.stack([r1, r1 * r1, torch.abs(r1), torch.clamp(r1, min=0.0)], dim=1)
        rr = (ret_stats @ self.roll_ret).reshape(b, 4, 3, s)  # stat × k(10, 20, 14) × day
        var = torch.clamp(rr[:, 1, :2] - rr[:, 0, :2] ** 2, min=0.0)  # k = 10, 20
        vol = torch.sqrt(var + _EPS)  # [B, 2, S]
        rsi = rr[:, 3, 2] / (rr[:, 2, 2] + _EPS) - 0.5  # [B, S]

        at_t = series @ self.sel  # [B, 5, S]
        top = torch.maximum(at_t[:, _LO], at_t[:, _LC])
        bottom = torch.minimum(at_t[:, _LO], at_t[:, _LC])
        upper = at_t[:, _LH] - top
        lower = bottom - at_t[:, _LL]

        lv_stats = torch.stack([lv, lv * lv], dim=1) @ self.roll_vol  # [B, 2, S]
        lv_sd = torch.sqrt(torch.clamp(lv_stats[:, 1] - lv_stats[:, 0] ** 2, min=0.0) + 1e-4)
        vz = (at_t[:, _LV] - lv_stats[:, 0]) / lv_sd

        c = px[..., 3]  # [B, W]
        ma = (c @ self.roll_px).reshape(b, 3, s)
        c_t = c[:, -s:].unsqueeze(1)
        ma_ratio = c_t / ma - 1.0  # [B, 3, S]

        hi = px[..., 1].index_select(1, self.range_idx).reshape(b, s, 10).amax(dim=-1)
        lo10 = px[..., 2].index_select(1, self.range_idx).reshape(b, s, 10).amin(dim=-1)
        pos = (c[:, -s:] - lo10) / (hi - lo10 + _EPS) - 0.5

        rest = torch.stack([upper, lower, vz, rsi, pos], dim=1)  # [B, 5, S]
        feats = torch.cat(
            [linear, vol, rest[:, :3], ma_ratio, rest[:, 3:]], dim=1
        )  # [B, F, S] in FEATURE_NAMES order
        return feats.transpose(1, 2).to(torch.float32)
