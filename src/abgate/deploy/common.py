"""What both Kubernetes targets share: render options, object skeletons, monitoring objects.

A manifest is a plain ``dict`` exactly as it will be written to YAML; nothing here talks to a
cluster. Every object carries the labels of :func:`labels`, so ``kubectl get all -l
app.kubernetes.io/part-of=abgate`` finds them all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from abgate import __version__
from abgate.errors import ConfigError

Manifest = dict[str, Any]
Target = Literal["seldon", "gateway"]
Backend = Literal["kserve", "mlserver"]

PART_OF: Final = "abgate"
RULES_FILE: Final = Path("prometheus") / "abgate-rules.yaml"
DASHBOARD_FILE: Final = Path("grafana") / "abgate-ab-testing.json"
GRAFANA_SIDECAR_LABEL: Final = ("grafana_dashboard", "1")
"""The label the Grafana Helm chart's dashboard sidecar watches for (its default)."""


def default_assets() -> Path:
    """The repository's ``deploy/`` folder (rules and dashboard) when running from a checkout."""
    return Path(__file__).resolve().parents[3] / "deploy"


@dataclass(frozen=True)
class RenderOptions:
    """Everything a rendered base needs besides the experiment config; defaults are examples."""

    namespace: str | None = None
    """Namespace of every object; ``seldon-mesh`` for the Seldon target, ``abgate`` otherwise."""
    host: str = "abgate.example.com"
    """Host name the Ingress answers for."""
    storage_uri: str = "s3://abgate-models"
    """Where exported models live: ``<uri>/mlserver/<model>`` and ``<uri>/triton/<model>``."""
    model_memory: str = "100Mi"
    """Seldon ``Model.spec.memory``: what the scheduler reserves on a server per model."""
    requirements: tuple[str, ...] = ("python",)
    """Seldon ``Model.spec.requirements``: server capabilities the model needs."""
    seldon_path: str = "/seldon"
    """Path prefix the Ingress strips before forwarding to the Seldon mesh."""
    image: str = f"abgate:{__version__}"
    """Gateway image (built from the repository's Dockerfile)."""
    replicas: int = 2
    """Gateway replicas (and the autoscaler's minimum)."""
    max_replicas: int = 6
    """Autoscaler maximum."""
    backend: Backend = "kserve"
    """How the gateway target runs the models: KServe InferenceServices or MLServer Deployments."""
    mlserver_image: str = "seldonio/mlserver:1.7.1"
    """MLServer image for ``backend="mlserver"``; needs ``onnxruntime`` importable."""
    storage_initializer_image: str = "kserve/storage-initializer:v0.15.0"
    """Init container that copies a model folder from ``storage_uri`` (MLServer backend)."""
    admin_secret: str = "abgate-admin"
    """Secret with key ``token``: the gateway's admin bearer token (created by you)."""
    events_secret: str = "abgate-events"
    """Secret with key ``url``: the PostgreSQL URL of the shared event log (created by you)."""
    monitor_labels: dict[str, str] = field(default_factory=dict)
    """Extra labels on ServiceMonitor/PodMonitor/PrometheusRule, e.g. ``release: <helm release>``
    for a kube-prometheus-stack that selects by label."""
    assets: Path = field(default_factory=default_assets)
    """Folder holding ``prometheus/abgate-rules.yaml`` and ``grafana/abgate-ab-testing.json``."""

    def __post_init__(self) -> None:
        if self.replicas < 1 or self.max_replicas < self.replicas:
            raise ConfigError(
                f"replicas must be >= 1 and <= max replicas (got {self.replicas}, "
                f"{self.max_replicas})"
            )
        if not self.seldon_path.startswith("/") or self.seldon_path.endswith("/"):
            raise ConfigError(f"seldon path must start and not end with '/': {self.seldon_path!r}")

    def namespace_for(self, target: Target) -> str:
        if self.namespace is not None:
            return self.namespace
        return "seldon-mesh" if target == "seldon" else "abgate"

    def model_uri(self, fmt: Literal["mlserver", "triton"], model: str) -> str:
        return f"{self.storage_uri.rstrip('/')}/{fmt}/{model}"


def labels(component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "abgate",
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/version": __version__,
    }


def obj(
    api_version: str,
    kind: str,
    name: str,
    namespace: str | None,
    component: str,
    *,
    extra_labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    **body: Any,
) -> Manifest:
    """An object with standard metadata; ``body`` holds ``spec``, ``data`` and the like."""
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["labels"] = labels(component) | (extra_labels or {})
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **body}


def namespace(name: str) -> Manifest:
    return obj("v1", "Namespace", name, None, "namespace")


def ingress(
    name: str,
    ns: str,
    host: str,
    service: str,
    port: int,
    *,
    path: str = "/",
    path_type: str = "Prefix",
    annotations: dict[str, str] | None = None,
) -> Manifest:
    """An NGINX Ingress (``ingressClassName: nginx``) for one host and one backend Service."""
    backend = {"service": {"name": service, "port": {"number": port}}}
    rule = {
        "host": host,
        "http": {"paths": [{"path": path, "pathType": path_type, "backend": backend}]},
    }
    return obj(
        "networking.k8s.io/v1",
        "Ingress",
        name,
        ns,
        "ingress",
        annotations=annotations,
        spec={"ingressClassName": "nginx", "rules": [rule]},
    )


def prometheus_rule(ns: str, options: RenderOptions, notes: list[str]) -> Manifest | None:
    """The repository's alert and recording rules as a PrometheusRule, or None (with a note)."""
    path = options.assets / RULES_FILE
    if not path.is_file():
        notes.append(f"PrometheusRule skipped: {path} not found")
        return None
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise ConfigError(f"{path}: expected a Prometheus rule file with 'groups'")
    return obj(
        "monitoring.coreos.com/v1",
        "PrometheusRule",
        "abgate",
        ns,
        "monitoring",
        extra_labels=options.monitor_labels,
        spec={"groups": doc["groups"]},
    )


def grafana_dashboard(ns: str, options: RenderOptions, notes: list[str]) -> Manifest | None:
    """The dashboard in a ConfigMap that Grafana's sidecar picks up, or None (with a note)."""
    path = options.assets / DASHBOARD_FILE
    if not path.is_file():
        notes.append(f"Grafana dashboard skipped: {path} not found")
        return None
    text = path.read_text(encoding="utf-8")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: invalid JSON: {exc}") from exc
    key, value = GRAFANA_SIDECAR_LABEL
    return obj(
        "v1",
        "ConfigMap",
        "abgate-grafana-dashboard",
        ns,
        "monitoring",
        extra_labels={key: value},
        data={path.name: text},
    )


def to_yaml(manifest: Manifest) -> str:
    """YAML as written to disk: key order kept, long strings as literal blocks."""
    return yaml.dump(manifest, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # shared sub-dicts (selectors) written out in full, never as &anchors


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)
