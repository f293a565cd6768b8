"""Target ``seldon``: the experiment as Seldon Core v2 resources (``mlops.seldon.io/v1alpha1``).

One ``Model`` per model of the config (an ``abgate export --format mlserver`` folder in storage),
one ``Experiment`` per experiment, an NGINX ``Ingress`` to the ``seldon-mesh`` Service, and
monitors for the Seldon agents (``seldon_model_infer_total``…) and Envoy. Seldon routes by the
``seldon-model`` header (``<experiment>.experiment``), which clients send themselves.

What Seldon's ``Experiment`` cannot express is reported as a note, not silently dropped:
hash assignment on a header, salts, progressive rollouts, bandits, breakers, signals.
Seldon Core v2 is under the Business Source License 1.1 (production use needs a commercial
licence from Seldon); ``docs/deploy-kubernetes.md`` says so.
"""

from __future__ import annotations

import math
from fractions import Fraction

from abgate.deploy.common import (
    Manifest,
    RenderOptions,
    grafana_dashboard,
    ingress,
    namespace,
    obj,
    prometheus_rule,
)
from abgate.errors import ConfigError
from abgate.gateway.config import ExperimentSpec, GatewayConfig

SELDON_API = "mlops.seldon.io/v1alpha1"
MESH_SERVICE = "seldon-mesh"  # created by the SeldonRuntime in its namespace
MESH_PORT = 80


def integer_weights(weights: dict[str, float]) -> dict[str, int]:
    """Seldon weights are integers: whole weights as they are, others as the smallest integers
    in the same ratio (to 1e-6)."""
    if all(float(w).is_integer() for w in weights.values()):
        return {n: int(w) for n, w in weights.items()}
    fractions = {n: Fraction(w).limit_denominator(1_000_000) for n, w in weights.items()}
    scale = math.lcm(*(f.denominator for f in fractions.values()))
    ints = {n: int(f * scale) for n, f in fractions.items()}
    divisor = math.gcd(*ints.values()) or 1
    return {n: v // divisor for n, v in ints.items()}


def _experiment(exp: ExperimentSpec, ns: str, notes: list[str]) -> Manifest:
    spec: dict[str, object] = {}
    if exp.default is not None:
        spec["default"] = exp.default
    weights = integer_weights(exp.weights())
    if any(not float(w).is_integer() for w in exp.weights().values()):
        notes.append(f"experiment {exp.name}: weights {exp.weights()} written as {weights}")
    spec["candidates"] = [{"name": n, "weight": w} for n, w in weights.items()]
    if exp.mirror is not None:
        if not float(exp.mirror.percent).is_integer():
            raise ConfigError(
                f"experiment {exp.name}: Seldon mirrors a whole percent of traffic, "
                f"not {exp.mirror.percent}"
            )
        spec["mirror"] = {"name": exp.mirror.name, "percent": int(exp.mirror.percent)}
    spec["resourceType"] = "model"
    unsupported = [
        what
        for what, present in (
            ("sticky_header (hash assignment)", exp.sticky_header is not None),
            ("salt", exp.salt is not None),
            ("rollout", exp.rollout is not None),
            ("allocation: thompson", exp.allocation.policy != "fixed"),
        )
        if present
    ]
    if unsupported:
        notes.append(
            f"experiment {exp.name}: not expressible in a Seldon Experiment, ignored: "
            + ", ".join(unsupported)
        )
    return obj(SELDON_API, "Experiment", exp.name, ns, "experiment", spec=spec)


def render_seldon(
    config: GatewayConfig, options: RenderOptions
) -> tuple[list[Manifest], list[str]]:
    """The objects of the Seldon base, in apply order, and notes for the user."""
    ns = options.namespace_for("seldon")
    notes: list[str] = [
        "gateway-only settings not rendered (Seldon has no equivalent): breaker, signal, faults"
    ]
    objects: list[Manifest] = [namespace(ns)]
    for model in config.models:
        artifact = model.remote_name or model.name
        objects.append(
            obj(
                SELDON_API,
                "Model",
                model.name,
                ns,
                "model",
                spec={
                    "storageUri": options.model_uri("mlserver", artifact),
                    "requirements": list(options.requirements),
                    "memory": options.model_memory,
                },
            )
        )
    objects += [_experiment(exp, ns, notes) for exp in config.experiments]
    objects.append(
        ingress(
            "abgate-seldon",
            ns,
            options.host,
            MESH_SERVICE,
            MESH_PORT,
            # /seldon/v2/models/x/infer → /v2/models/x/infer at the mesh
            path=f"{options.seldon_path}(/|$)(.*)",
            path_type="ImplementationSpecific",
            annotations={
                "nginx.ingress.kubernetes.io/use-regex": "true",
                "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
            },
        )
    )
    # Facts from Seldon's own monitors: agents run in pods labelled app=seldon-server and serve
    # metrics on port "metrics"; Envoy's Service is labelled app=seldon-mesh, stats on "admin".
    objects.append(
        obj(
            "monitoring.coreos.com/v1",
            "PodMonitor",
            "seldon-agents",
            ns,
            "monitoring",
            extra_labels=options.monitor_labels,
            spec={
                "selector": {"matchLabels": {"app": "seldon-server"}},
                "namespaceSelector": {"matchNames": [ns]},
                "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": "15s"}],
            },
        )
    )
    objects.append(
        obj(
            "monitoring.coreos.com/v1",
            "ServiceMonitor",
            "seldon-envoy",
            ns,
            "monitoring",
            extra_labels=options.monitor_labels,
            spec={
                "selector": {"matchLabels": {"app": MESH_SERVICE}},
                "namespaceSelector": {"matchNames": [ns]},
                "endpoints": [{"port": "admin", "path": "/stats/prometheus", "interval": "15s"}],
            },
        )
    )
    for extra in (prometheus_rule(ns, options, notes), grafana_dashboard(ns, options, notes)):
        if extra is not None:
            objects.append(extra)
    return objects, notes
