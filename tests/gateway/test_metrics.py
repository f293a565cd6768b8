from __future__ import annotations

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry

from abgate.gateway.breaker import CircuitState
from abgate.gateway.metrics import LATENCY_BUCKETS, GatewayMetrics

EXP = "financial-ab-test-experiment"


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> GatewayMetrics:
    return GatewayMetrics(registry, server="gw", server_replica="2")


def observe(metrics: GatewayMetrics, seconds: float, code: int | str = 200) -> None:
    metrics.observe_inference(
        experiment=EXP,
        model="enhanced-predictor",
        routed_model="baseline-predictor",
        model_internal="enhanced-predictor_1",
        code=code,
        seconds=seconds,
    )


def test_observe_inference_feeds_abgate_and_seldon_series(
    registry: CollectorRegistry, metrics: GatewayMetrics
) -> None:
    observe(metrics, 0.002)
    observe(metrics, 0.5, code="200")  # an int and a str status are the same series
    observe(metrics, 0.25, code=503)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    ours = {"experiment": EXP, "model": "enhanced-predictor"}
    assert value("abgate_requests_total", **ours, code="200") == 2.0
    assert value("abgate_requests_total", **ours, code="503") == 1.0
    assert value("abgate_request_duration_seconds_count", **ours) == 3.0
    assert value("abgate_request_duration_seconds_sum", **ours) == pytest.approx(0.752)
    assert value("abgate_request_duration_seconds_bucket", **ours, le="0.0025") == 1.0
    assert value("abgate_request_duration_seconds_bucket", **ours, le="0.25") == 2.0
    assert value("abgate_request_duration_seconds_bucket", **ours, le="+Inf") == 3.0

    seldon = {
        "model": "baseline-predictor",
        "model_internal": "enhanced-predictor_1",
        "code": "200",
        "method_type": "rest",
        "server": "gw",
        "server_replica": "2",
    }
    assert value("seldon_model_infer_total", **seldon) == 2.0
    assert value("seldon_model_infer_seconds_total", **seldon) == pytest.approx(0.502)
    assert value("seldon_model_infer_total", **(seldon | {"code": "503"})) == 1.0


def test_buckets_span_a_tenth_of_a_millisecond_to_five_seconds(
    registry: CollectorRegistry, metrics: GatewayMetrics
) -> None:
    assert LATENCY_BUCKETS[0] == 0.0001 and LATENCY_BUCKETS[-1] == 5.0
    assert list(LATENCY_BUCKETS) == sorted(LATENCY_BUCKETS)
    observe(metrics, 0.00005)
    labels = {"experiment": EXP, "model": "enhanced-predictor"}
    for le in ("0.0001", "0.00025", "5.0"):
        assert (
            registry.get_sample_value("abgate_request_duration_seconds_bucket", labels | {"le": le})
            == 1.0
        )


def test_counters_by_label(registry: CollectorRegistry, metrics: GatewayMetrics) -> None:
    metrics.record_assignment(EXP, "baseline-predictor", "split")
    metrics.record_assignment(EXP, "baseline-predictor", "split")
    metrics.record_assignment(EXP, "baseline-predictor", "sticky")
    metrics.record_fallback(EXP, "enhanced-predictor", "circuit_open")
    metrics.record_mirror(EXP, "enhanced-predictor", 200)
    metrics.record_mirror(EXP, "enhanced-predictor", "200")
    metrics.record_feedback(EXP, "baseline-predictor", True)
    metrics.record_feedback(EXP, "baseline-predictor", False)
    metrics.record_feedback(EXP, "baseline-predictor", False)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"experiment": EXP} | labels)

    base = {"model": "baseline-predictor"}
    assert value("abgate_assignments_total", **base, how="split") == 2.0
    assert value("abgate_assignments_total", **base, how="sticky") == 1.0
    assert (
        value("abgate_fallbacks_total", from_model="enhanced-predictor", reason="circuit_open")
        == 1.0
    )
    assert value("abgate_mirror_requests_total", model="enhanced-predictor", code="200") == 2.0
    assert value("abgate_feedback_total", **base, correct="true") == 1.0
    assert value("abgate_feedback_total", **base, correct="false") == 2.0


def test_circuit_state_gauge(registry: CollectorRegistry, metrics: GatewayMetrics) -> None:
    for state in (CircuitState.OPEN, CircuitState.HALF_OPEN):
        metrics.set_circuit_state("m", state)
        assert registry.get_sample_value("abgate_circuit_state", {"model": "m"}) == float(state)
    metrics.set_circuit_state("m", CircuitState.CLOSED)
    assert registry.get_sample_value("abgate_circuit_state", {"model": "m"}) == 0.0


def test_experiment_weights_and_dropped_arms(
    registry: CollectorRegistry, metrics: GatewayMetrics
) -> None:
    def weight(model: str) -> float | None:
        return registry.get_sample_value(
            "abgate_experiment_weight", {"experiment": EXP, "model": model}
        )

    metrics.set_experiment_weights(EXP, {"a": 70, "b": 30})
    assert (weight("a"), weight("b")) == (70.0, 30.0)
    metrics.set_experiment_weights(EXP, {"a": 100})
    assert (weight("a"), weight("b")) == (100.0, 0.0)


def test_metrics_live_only_on_the_given_registry(registry: CollectorRegistry) -> None:
    GatewayMetrics(registry)
    GatewayMetrics(CollectorRegistry())  # a second instance elsewhere does not clash
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        GatewayMetrics(registry)
    names = {m.name for m in prometheus_client.REGISTRY.collect()}
    assert not any(n.startswith(("abgate_", "seldon_")) for n in names)


def test_labelled_children_are_cached(metrics: GatewayMetrics) -> None:
    for _ in range(5):
        observe(metrics, 0.001)
        metrics.record_assignment(EXP, "a", "split")
        metrics.set_circuit_state("a", 0)
    assert len(metrics._inference) == 1
    assert len(metrics._counters) == 1
    assert len(metrics._gauges) == 1
