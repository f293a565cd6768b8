"""Prometheus metrics of the gateway, created on the registry passed in (never the global one).

Besides abgate's own series it keeps the two counters of the Seldon Core v2 agent
(``seldon_model_infer_total``, ``seldon_model_infer_seconds_total``), so dashboards built for a
Seldon mesh work against the gateway.

``.labels()`` costs a lock and a dict lookup on the metric; the hot path instead looks up the
labelled children in a plain dict keyed by the label values. Label values must come from a small
set (configured names, status codes, fixed reasons), never from client input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# 1, 2.5, 5 × 10^k s for k = -4…0: from 0.1 ms (an in-process ONNX call) to 5 s (a remote
# model timing out). Rounded so the exposition shows 0.00025, not 0.00025000000000000006.
LATENCY_BUCKETS: tuple[float, ...] = tuple(
    round(m * 10.0**k, 6) for k in range(-4, 1) for m in (1, 2.5, 5)
)

_SELDON_LABELS = ("model", "model_internal", "code", "method_type", "server", "server_replica")


class GatewayMetrics:
    """All gateway series. ``experiment`` is ``""`` for calls that reach a model directly."""

    def __init__(
        self, registry: CollectorRegistry, *, server: str = "abgate", server_replica: str = "0"
    ) -> None:
        self.server = server
        self.server_replica = server_replica

        def counter(name: str, doc: str, labels: tuple[str, ...]) -> Counter:
            return Counter(name, doc, labels, registry=registry)

        def gauge(
            name: str,
            doc: str,
            labels: tuple[str, ...],
            mode: Literal["mostrecent", "liveall"] = "mostrecent",
        ) -> Gauge:
            # ``mode`` matters only with several worker processes (PROMETHEUS_MULTIPROC_DIR):
            # the latest value any worker set, or one series per live worker.
            return Gauge(name, doc, labels, registry=registry, multiprocess_mode=mode)

        exp_model = ("experiment", "model")
        self.requests = counter(
            "abgate_requests",
            "Inference requests by serving model and status.",
            (*exp_model, "code"),
        )
        self.duration = Histogram(
            "abgate_request_duration_seconds",
            "Inference request latency in seconds.",
            exp_model,
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.fallbacks = counter(
            "abgate_fallbacks",
            "Requests answered by another model because the chosen one failed.",
            ("experiment", "from_model", "reason"),
        )
        self.circuit_state = gauge(
            "abgate_circuit_state",
            "Circuit breaker: 0 closed, 1 open, 2 half-open (one series per worker process).",
            ("model",),
            "liveall",
        )
        self.feedback = counter(
            "abgate_feedback", "Ground truth received, by correctness.", (*exp_model, "correct")
        )
        self.weight = gauge("abgate_experiment_weight", "Weight of an experiment arm.", exp_model)
        self.mirror_requests = counter(
            "abgate_mirror_requests", "Mirrored requests by model and status.", (*exp_model, "code")
        )
        self.assignments = counter(
            "abgate_assignments", "Assignments of requests to models.", (*exp_model, "how")
        )
        self.seldon_infer = counter(
            "seldon_model_infer", "Inferences (Seldon agent compatible).", _SELDON_LABELS
        )
        self.seldon_infer_seconds = counter(
            "seldon_model_infer_seconds", "Inference seconds (Seldon compatible).", _SELDON_LABELS
        )

        self.srm_p_value = gauge(
            "abgate_srm_p_value",
            "Sample-ratio-mismatch p-value of assignments vs weights (unhealthy < 0.001).",
            ("experiment",),
        )
        self.verdict = gauge(
            "abgate_verdict",
            "Current verdict: 0 continue, 1 promote, 2 rollback, 3 invalid.",
            ("experiment",),
        )
        self.always_valid_p = gauge(
            "abgate_always_valid_p_value",
            "Always-valid (mSPRT) p-value of the accuracy difference, Holm-adjusted.",
            ("experiment", "candidate"),
        )
        self.accuracy_difference = gauge(
            "abgate_accuracy_difference",
            "Accuracy candidate − baseline: estimate and always-valid confidence sequence.",
            ("experiment", "candidate", "bound"),
        )
        self.drift_psi = gauge(
            "abgate_drift_psi",
            "Population stability index of live traffic vs the training reference.",
            ("model", "feature"),
        )
        self.analysis_time = gauge(
            "abgate_analysis_timestamp_seconds",
            "Unix time of the latest live analysis.",
            ("experiment",),
        )

        self.rollout_phase = gauge(
            "abgate_rollout_phase",
            "Progressive rollout: 0 running, 1 paused, 2 promoted, 3 rolled back.",
            ("experiment",),
        )
        self.rollout_step = gauge(
            "abgate_rollout_step_percent",
            "Candidate traffic share set by the rollout, in percent.",
            ("experiment",),
        )

        self._inference: dict[tuple[str, ...], tuple[Counter, Histogram, Counter, Counter]] = {}
        self._counters: dict[tuple[str, ...], Counter] = {}
        self._gauges: dict[tuple[str, ...], Gauge] = {}
        self._arms: dict[str, set[str]] = {}

    def observe_inference(
        self,
        *,
        experiment: str,
        model: str,
        routed_model: str,
        model_internal: str,
        code: int | str,
        seconds: float,
        method_type: str = "rest",
    ) -> None:
        """One answered inference request.

        ``model`` served it (abgate series); ``routed_model`` is the name the client called and
        ``model_internal`` the versioned variant that ran, e.g. ``enhanced-predictor_3`` (Seldon
        series). ``code`` is the HTTP status.
        """
        key = (experiment, model, routed_model, model_internal, str(code), method_type)
        children = self._inference.get(key)
        if children is None:
            code_s = key[4]
            seldon = (
                routed_model,
                model_internal,
                code_s,
                method_type,
                self.server,
                self.server_replica,
            )
            children = self._inference[key] = (
                self.requests.labels(experiment, model, code_s),
                self.duration.labels(experiment, model),
                self.seldon_infer.labels(*seldon),
                self.seldon_infer_seconds.labels(*seldon),
            )
        requests, duration, seldon_count, seldon_seconds = children
        requests.inc()
        duration.observe(seconds)
        seldon_count.inc()
        seldon_seconds.inc(seconds)

    def record_assignment(self, experiment: str, model: str, how: str) -> None:
        """A request was assigned to ``model`` by ``how`` (split, hash, sticky, direct…)."""
        self._count(self.assignments, "a", experiment, model, how)

    def record_fallback(self, experiment: str, from_model: str, reason: str) -> None:
        """``from_model`` failed or was unavailable and another model answered instead."""
        self._count(self.fallbacks, "f", experiment, from_model, reason)

    def record_mirror(self, experiment: str, model: str, code: int | str) -> None:
        """A mirrored copy of a request finished with HTTP status ``code``."""
        self._count(self.mirror_requests, "m", experiment, model, str(code))

    def record_feedback(self, experiment: str, model: str, correct: bool, count: int = 1) -> None:
        """Ground truth arrived for ``count`` predictions of ``model``."""
        self._count(self.feedback, "fb", experiment, model, "true" if correct else "false", n=count)

    def set_circuit_state(self, model: str, state: int) -> None:
        """Breaker state of ``model`` (0 closed, 1 open, 2 half-open; a ``CircuitState`` works)."""
        self._set(self.circuit_state, float(state), "c", model)

    def set_experiment_weights(self, experiment: str, weights: Mapping[str, float]) -> None:
        """Current weights of the arms; arms set before and missing now drop to 0."""
        arms = self._arms.setdefault(experiment, set())
        for model in arms - set(weights):
            self._set(self.weight, 0.0, "w", experiment, model)
        for model, weight in weights.items():
            self._set(self.weight, float(weight), "w", experiment, model)
        arms.update(weights)

    def _count(self, metric: Counter, tag: str, *labels: str, n: int = 1) -> None:
        # ``tag`` keeps metrics with the same label values apart in the shared cache.
        child = self._counters.get((tag, *labels))
        if child is None:
            child = self._counters[(tag, *labels)] = metric.labels(*labels)
        child.inc(n)

    def _set(self, metric: Gauge, value: float, tag: str, *labels: str) -> None:
        child = self._gauges.get((tag, *labels))
        if child is None:
            child = self._gauges[(tag, *labels)] = metric.labels(*labels)
        child.set(value)
