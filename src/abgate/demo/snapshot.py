"""What the live view shows at one instant: plain frozen data, built by the monitor.

The view (:mod:`abgate.demo.view`) is a pure function of a :class:`Snapshot`, so it can be tested
on a hand-made one and the refresh loop owns all timing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelRow:
    """One row of the per-model table."""

    name: str
    role: str
    """``baseline`` or ``candidate``."""
    requests: int
    """Requests this model answered."""
    share: float
    """Its share of all answers."""
    target_share: float
    success_rate: float | None
    """Requests routed here that this model answered itself (no fallback); None before any."""
    fallbacks: int
    """Answers it gave in place of a failed arm."""
    scored: int
    correct: int
    accuracy_lower: float
    accuracy_upper: float
    """95% Wilson interval of the accuracy."""
    latency_p50: float | None
    latency_p95: float | None
    latency_p99: float | None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.scored if self.scored else None


@dataclass(frozen=True)
class ScoredPrediction:
    """A prediction checked against what the market did next."""

    model: str
    ticker: str
    date: str
    regime: str
    truth: int
    probability: float

    @property
    def predicted(self) -> int:
        return int(self.probability > 0.5)

    @property
    def correct(self) -> bool:
        return self.predicted == self.truth


@dataclass(frozen=True)
class VerdictLine:
    """The decision at the latest look, for the first candidate versus the baseline."""

    verdict: str
    """``promote``, ``rollback``, ``invalid`` or ``continue``."""
    headline: str
    candidate: str
    baseline: str
    estimate: float
    """Accuracy difference candidate − baseline."""
    lower: float | None
    upper: float | None
    """Always-valid 95% confidence sequence (None while unbounded)."""
    p_value: float
    """Always-valid (Holm-adjusted) p-value."""
    scored: int
    burn_in: int


@dataclass(frozen=True)
class GatewayLine:
    """The gateway's safety machinery during a fault run, from its experiment status."""

    fault: str
    """The injected fault in the flag's syntax (``error-rate=0.3``)."""
    candidate: str
    rollout_phase: str | None
    """``running``, ``paused``, ``promoted`` or ``rolled_back``; None before the first status."""
    candidate_weight: float | None
    """The candidate's current weight in percent."""
    circuits: tuple[tuple[str, str], ...]
    """(model, breaker state) per arm: ``closed``, ``open`` or ``half_open``."""
    fallbacks: int
    """Answers the default model gave in place of a failed candidate call, so far."""
    down: bool = False
    """The candidate was taken down through the admin API (``down-after``)."""


@dataclass(frozen=True)
class Snapshot:
    """Everything on screen at one refresh."""

    experiment: str
    target: str
    """Where the requests go (URL)."""
    done: int
    total: int
    elapsed_s: float
    failures: int
    models: tuple[ModelRow, ...]
    recent: tuple[ScoredPrediction, ...]
    verdict: VerdictLine | None
    finished: bool = False
    gateway: GatewayLine | None = None
    """Only in a fault run."""

    @property
    def rate(self) -> float:
        """Requests per second so far."""
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the current rate; None before any request finished."""
        if self.done >= self.total:
            return 0.0
        return (self.total - self.done) / self.rate if self.rate > 0 else None
