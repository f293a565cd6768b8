"""Population stability index (PSI) of a live distribution against a training reference.

PSI = Σᵢ (aᵢ − eᵢ) · ln(aᵢ / eᵢ) over the reference's bins, with eᵢ the reference share and aᵢ
the live share of bin i (both floored at ``EPS`` so empty bins stay finite). Common reading
(Siddiqi, *Credit Risk Scorecards*, 2006): < 0.1 stable, 0.1–0.25 some shift, > 0.25 a
significant shift — the alert threshold abgate uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

EPS = 1e-4
ALERT_THRESHOLD = 0.25


@dataclass(frozen=True)
class DriftReference:
    """Interior bin edges (deciles of the reference) and the reference share of each bin."""

    edges: tuple[float, ...]
    fractions: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.fractions) != len(self.edges) + 1:
            raise ValueError("need one more fraction than interior edges")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("edges must increase strictly")

    def to_dict(self) -> dict[str, list[float]]:
        return {"edges": list(self.edges), "fractions": list(self.fractions)}

    @classmethod
    def from_dict(cls, doc: dict[str, list[float]]) -> DriftReference:
        return cls(tuple(doc["edges"]), tuple(doc["fractions"]))


def reference_from_values(values: npt.ArrayLike, bins: int = 10) -> DriftReference:
    """Quantile bins of ``values`` (ties merged, so a discrete variable gets fewer bins)."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size == 0:
        raise ValueError("no finite values to build a reference from")
    if bins < 2:
        raise ValueError("bins must be at least 2")
    edges = np.unique(np.quantile(x, np.linspace(0, 1, bins + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1)
    return DriftReference(tuple(edges.tolist()), tuple((counts / x.size).tolist()))


def psi(reference: DriftReference, values: npt.ArrayLike) -> float | None:
    """PSI of ``values`` against ``reference``; None when there are no finite values."""
    x = np.asarray(values, dtype=np.float64).reshape(-1)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return None
    edges = np.asarray(reference.edges)
    counts = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1)
    actual = np.maximum(counts / x.size, EPS)
    expected = np.maximum(np.asarray(reference.fractions), EPS)
    return float(np.sum((actual - expected) * np.log(actual / expected)))
