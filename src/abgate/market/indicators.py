"""A few input indicators in numpy, for drift monitoring of live traffic.

They follow the model's own feature definitions (``abgate.models.features``: ``ret_1d`` and
``vol_20d`` on the window's last day) so the training reference in the model card and the live
values are the same quantity.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

DRIFT_INPUTS = ("ret_1d", "vol_20d")


def drift_inputs(windows: npt.NDArray[np.floating]) -> dict[str, npt.NDArray[np.float64]]:
    """``[n, W, 5]`` raw bars → last-day ``ret_1d`` and ``vol_20d`` per window."""
    w = np.asarray(windows, dtype=np.float64)
    if w.ndim != 3 or w.shape[1] < 22 or w.shape[2] != 5:
        raise ValueError(f"windows must be [n, W >= 22, 5], got {w.shape}")
    log_close = np.log(w[:, :, 3])
    r1 = np.diff(log_close, axis=1)
    last20 = r1[:, -20:]
    return {
        "ret_1d": r1[:, -1],
        "vol_20d": np.sqrt(last20.var(axis=1) + 1e-8),
    }
