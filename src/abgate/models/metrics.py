"""Classification and trading metrics of direction predictions (numpy only, no torch)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.floating]
IntArray = npt.NDArray[np.integer]

#: Cost charged on every one-day trade of the strategy metric, in basis points.
DEFAULT_COST_BPS = 5.0


@dataclass(frozen=True)
class PredictionMetrics:
    n: int
    accuracy: float
    balanced_accuracy: float
    roc_auc: float | None  # None when only one class is present
    log_loss: float
    brier: float
    f1: float
    positive_rate: float  # share of days that went up (the coin a model must beat)
    strategy_mean_return: float  # long if p > 0.5 else short, net of cost_bps per trade
    buy_and_hold_mean_return: float
    cost_bps: float

    def to_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


def roc_auc(labels: IntArray, scores: FloatArray) -> float | None:
    """Area under the ROC curve by the rank-sum (Mann–Whitney) identity, ties averaged."""
    pos = labels == 1
    n_pos = int(pos.sum())
    n_neg = len(labels) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores), dtype=np.float64)
    sorted_scores = scores[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    avg = first + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def strategy_returns(
    probabilities: FloatArray, next_returns: FloatArray, cost_bps: float = DEFAULT_COST_BPS
) -> FloatArray:
    """Daily return of going long when p > 0.5 and short otherwise, minus the trade cost."""
    side = np.where(probabilities > 0.5, 1.0, -1.0)
    return np.asarray(side * next_returns - cost_bps / 1e4, dtype=np.float64)


def evaluate(
    probabilities: FloatArray,
    labels: IntArray,
    next_returns: FloatArray,
    cost_bps: float = DEFAULT_COST_BPS,
) -> PredictionMetrics:
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1).astype(np.int64)
    if len(p) != len(y) or len(p) != len(next_returns):
        raise ValueError("probabilities, labels and next_returns differ in length")
    if len(p) == 0:
        raise ValueError("no predictions to evaluate")
    pred = (p > 0.5).astype(np.int64)
    tp = int(((pred == 1) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    tpr = tp / (tp + fn) if tp + fn else 0.0
    tnr = tn / (tn + fp) if tn + fp else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    eps = 1e-7
    pc = np.clip(p, eps, 1 - eps)
    log_loss = float(-np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc)))
    return PredictionMetrics(
        n=len(p),
        accuracy=float((pred == y).mean()),
        balanced_accuracy=(tpr + tnr) / 2,
        roc_auc=roc_auc(y, p),
        log_loss=log_loss,
        brier=float(np.mean((p - y) ** 2)),
        f1=f1,
        positive_rate=float(y.mean()),
        strategy_mean_return=float(strategy_returns(p, next_returns, cost_bps).mean()),
        buy_and_hold_mean_return=float(np.mean(next_returns)),
        cost_bps=cost_bps,
    )
