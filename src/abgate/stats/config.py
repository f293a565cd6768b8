"""Inputs of :func:`abgate.stats.analysis.analyze_experiment`: the config and per-arm summaries.

:class:`AnalysisConfig` is user-facing (it sits in the experiment YAML), hence a pydantic
model with a docstring per field; :class:`ArmSummary` is the frozen bundle of one arm's
sufficient statistics that the event log produces.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from abgate.stats._common import check_int
from abgate.stats.bootstrap import as_sample
from abgate.stats.sufficient import Moments, Proportion


class AnalysisConfig(BaseModel):
    """How an experiment is analysed and decided. Defaults suit the bundled LSTM demo."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    alpha: float = Field(default=0.05, gt=0.0, le=0.5)
    """Significance level of every test and confidence sequence (two-sided)."""

    n_star: int = Field(default=5000, ge=1)
    """Planned sample size N*: scored predictions, candidate and baseline together, at which
    you expect to decide. It tunes the always-valid test to be sharpest there; it is not a
    stopping rule — looking earlier or later stays valid (GrowthBook's default is 5,000)."""

    burn_in: int = Field(default=200, ge=0)
    """Minimum scored predictions (candidate and baseline together) before the sequential test
    may act; protects the normal approximation in the first minutes of an experiment."""

    power: float = Field(default=0.8, gt=0.0, lt=1.0)
    """Target power for the minimum detectable effect and the samples-still-needed estimate."""

    min_detectable_effect: float = Field(default=0.02, gt=0.0, lt=1.0)
    """Smallest accuracy difference (absolute, 0.02 = two points) worth detecting."""

    error_rate_margin: float = Field(default=0.01, ge=0.0, lt=1.0)
    """Largest acceptable increase of the request error rate (absolute)."""

    latency_margin: float = Field(default=0.10, ge=0.0)
    """Largest acceptable relative increase of the latency quantile (0.10 = ten percent)."""

    latency_quantile: float = Field(default=0.95, gt=0.0, lt=1.0)
    """Latency quantile guarded by the latency margin."""

    srm_threshold: float = Field(default=0.001, gt=0.0, lt=1.0)
    """The split is declared broken when the SRM χ² p-value falls below this."""

    bootstrap_resamples: int = Field(default=2000, ge=100)
    """Bootstrap resamples for latency quantiles."""

    @model_validator(mode="after")
    def _power_exceeds_alpha(self) -> AnalysisConfig:
        if self.power <= self.alpha:
            raise ValueError("power must exceed alpha")
        return self


def _empty_latency() -> NDArray[np.float64]:
    return np.zeros(0)


@dataclass(frozen=True, eq=False)
class ArmSummary:
    """Sufficient statistics of one arm (cumulative since the experiment started).

    ``latency_ms`` is a sample of request latencies in milliseconds (e.g. a reservoir); it is
    copied and made read-only.
    """

    assignments: int
    """Requests routed to this arm (the SRM check compares these with the weights)."""
    accuracy: Proportion
    """Correct predictions out of predictions scored against ground truth."""
    errors: Proportion = field(default_factory=lambda: Proportion(0, 0))
    """Failed requests out of requests."""
    returns: Moments = field(default_factory=lambda: Moments(0, 0.0, 0.0))
    """Per-prediction strategy returns (see :func:`abgate.stats.means.strategy_returns`)."""
    latency_ms: NDArray[np.float64] = field(default_factory=_empty_latency)

    def __post_init__(self) -> None:
        object.__setattr__(self, "assignments", check_int(self.assignments, "assignments"))
        for name, kind in (("accuracy", Proportion), ("errors", Proportion), ("returns", Moments)):
            if not isinstance(getattr(self, name), kind):
                raise TypeError(f"{name} must be a {kind.__name__}")
        latency = as_sample(self.latency_ms, "latency_ms").copy()
        if latency.size and latency.min() < 0:
            raise ValueError("latency_ms must be >= 0")
        latency.flags.writeable = False
        object.__setattr__(self, "latency_ms", latency)
