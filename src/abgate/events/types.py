"""The records the event log stores and the summaries it answers with.

An ``InferenceEvent`` is validated when it is built, so a value that would not survive a round trip
through SQLite (and so would break the hash chain) is a ``TypeError``/``ValueError`` at the call
site, never a failure of the background writer. A ``FeedbackItem`` is *not* validated: bad ground
truth is a result (``FeedbackResult.invalid``), not an exception.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

ASSIGNMENTS: Final = frozenset({"split", "sticky", "hash", "direct", "fallback", "mirror"})
"""How a request reached the model that served it."""


def _check_str(owner: str, name: str, value: object, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        kind = "a string or None" if optional else "a string"
        raise TypeError(f"{owner}.{name} must be {kind}, got {type(value).__name__}")


def _check_real(
    owner: str, name: str, value: object, *, optional: bool = False, low: float | None = None
) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{owner}.{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"{owner}.{name} must be finite, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{owner}.{name} must be >= {low}, got {value!r}")


@dataclass(frozen=True, slots=True)
class InferenceEvent:
    """One answered (or failed) inference request, as the gateway saw it."""

    ts: float
    """Unix time the request arrived, in seconds."""
    request_id: str
    experiment: str | None
    """Experiment that routed the request; None for direct calls to a model."""
    model: str
    """Model that actually served the request (after any fallback)."""
    version: str
    assigned_model: str | None
    """Variant the router chose before any fallback (None for direct calls)."""
    assignment: str
    """One of ``ASSIGNMENTS``: split / sticky / hash / direct / fallback / mirror."""
    unit_hash: str | None
    """Hash of the randomisation unit (user, session), never the raw identifier."""
    input_sha256: str
    probability: float | None
    """Model output: probability of "up"; None when the request failed."""
    signal: str | None
    """buy / sell / hold, when the gateway derived one."""
    latency_ms: float
    status: int
    """HTTP status returned to the client (for mirrors: what the mirror answered)."""
    error: str | None = None
    fallback_reason: str | None = None
    propensity: float | None = None
    """Probability with which ``assigned_model`` was chosen (for inverse-propensity weighting)."""

    def __post_init__(self) -> None:
        # Fast path for the well-formed event the gateway builds on every request: exact types,
        # finite values in range. Anything else goes through the checks below, which say why.
        p, q = self.probability, self.propensity
        if (
            type(self.ts) is float
            and type(self.latency_ms) is float
            and type(self.status) is int
            and type(self.request_id) is str
            and type(self.model) is str
            and type(self.version) is str
            and type(self.input_sha256) is str
            and self.assignment in ASSIGNMENTS
            and 100 <= self.status <= 599
            and 0.0 <= self.latency_ms < math.inf
            and -math.inf < self.ts < math.inf
            and (p is None or (type(p) is float and 0.0 <= p <= 1.0))
            and (q is None or (type(q) is float and 0.0 <= q <= 1.0))
            and (self.experiment is None or type(self.experiment) is str)
            and (self.assigned_model is None or type(self.assigned_model) is str)
            and (self.unit_hash is None or type(self.unit_hash) is str)
            and (self.signal is None or type(self.signal) is str)
            and (self.error is None or type(self.error) is str)
            and (self.fallback_reason is None or type(self.fallback_reason) is str)
        ):
            return
        owner = "InferenceEvent"
        _check_real(owner, "ts", self.ts)
        for name in ("request_id", "model", "version", "input_sha256"):
            _check_str(owner, name, getattr(self, name))
        for name in ("experiment", "assigned_model", "unit_hash", "signal", "error"):
            _check_str(owner, name, getattr(self, name), optional=True)
        _check_str(owner, "fallback_reason", self.fallback_reason, optional=True)
        if self.assignment not in ASSIGNMENTS:
            raise ValueError(
                f"{owner}.assignment must be one of {sorted(ASSIGNMENTS)}, got {self.assignment!r}"
            )
        _check_real(owner, "probability", self.probability, optional=True, low=0.0)
        if self.probability is not None and self.probability > 1.0:
            raise ValueError(f"{owner}.probability must be <= 1, got {self.probability!r}")
        _check_real(owner, "latency_ms", self.latency_ms, low=0.0)
        if isinstance(self.status, bool) or not isinstance(self.status, int):
            raise TypeError(f"{owner}.status must be an int, got {type(self.status).__name__}")
        if not 100 <= self.status <= 599:
            raise ValueError(f"{owner}.status must be an HTTP status code, got {self.status}")
        _check_real(owner, "propensity", self.propensity, optional=True, low=0.0)
        if self.propensity is not None and self.propensity > 1.0:
            raise ValueError(f"{owner}.propensity must be <= 1, got {self.propensity!r}")


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    """Ground truth for one earlier prediction, keyed by its request id."""

    request_id: str
    truth: int
    """1 if the predicted event happened (e.g. the price went up), else 0."""
    reward: float | None = None


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    """What happened to each item of a feedback call; every item lands in exactly one place."""

    accepted: int
    unknown: tuple[str, ...]
    """No prediction with this request id in the experiment."""
    duplicate: tuple[str, ...]
    """The prediction already has ground truth (or the id repeats within the call)."""
    invalid: tuple[str, ...]
    """Truth not 0/1, reward not a finite number, or request id not a string."""
    scored: tuple[tuple[str, int, int], ...] = ()
    """(model, correct, incorrect) over the accepted items whose prediction had a probability:
    what this call added, so each gateway process counts only its own calls."""


@dataclass(frozen=True, slots=True)
class AdminEvent:
    """A change made to an experiment: weight change, breaker transition, rollout, ..."""

    ts: float
    kind: str
    experiment: str | None
    payload: Mapping[str, object]
    """Must be JSON-serialisable; stored as canonical JSON."""

    def __post_init__(self) -> None:
        _check_real("AdminEvent", "ts", self.ts)
        _check_str("AdminEvent", "kind", self.kind)
        if not self.kind:
            raise ValueError("AdminEvent.kind must not be empty")
        _check_str("AdminEvent", "experiment", self.experiment, optional=True)
        if not isinstance(self.payload, Mapping):
            raise TypeError(
                f"AdminEvent.payload must be a mapping, got {type(self.payload).__name__}"
            )


@dataclass(frozen=True, slots=True)
class ModelTally:
    """Counts for one served model in one experiment (mirror traffic excluded).

    ``errors`` counts responses with status >= 400; ``fallbacks`` requests this model served in
    place of the variant the router chose; ``scored`` predictions with ground truth and a
    probability; ``correct`` those where ``(probability > 0.5) == truth``.
    """

    model: str
    requests: int
    errors: int
    fallbacks: int
    scored: int
    correct: int


@dataclass(frozen=True, slots=True)
class LogStats:
    """Introspection counters of an event log (for tests, metrics and benchmarks)."""

    batches: int
    """Transactions committed by the writer (one per batch)."""
    events: int
    """Event rows written (inference, feedback and admin)."""
    largest_batch: int
    """Most queued operations ever committed in one transaction."""
    pending: int
    """Operations accepted but not yet committed."""
    peak_pending: int
    """Highest ``pending`` ever observed; never exceeds ``max_pending``."""
    backpressure_waits: int
    """Calls that had to wait for the writer because ``max_pending`` was reached."""
