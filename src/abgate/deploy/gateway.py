"""Target ``gateway``: the abgate gateway itself, scaled out in front of standard V2 servers.

The gateway runs as a Deployment (``replicas`` behind a Service, an HPA, an NGINX Ingress); its
experiment comes from a ConfigMap in which every registry model is rewritten as a *remote* model
pointing at its backend: a KServe ``InferenceService`` (Triton's onnxruntime backend, exported
with ``abgate export --format triton``) or a plain MLServer Deployment (``--format mlserver``).
All replicas log to one PostgreSQL database (URL in a Secret), so feedback and analysis see every
replica's traffic; the admin token comes from a Secret too. Neither Secret is rendered: their
values must not live in a repository (``docs/deploy-kubernetes.md`` shows how to create them).
"""

from __future__ import annotations

import hashlib
from typing import Any, Final
from urllib.parse import urlsplit

from abgate.deploy.common import (
    Manifest,
    RenderOptions,
    grafana_dashboard,
    ingress,
    labels,
    namespace,
    obj,
    prometheus_rule,
    to_yaml,
)
from abgate.gateway.config import GatewayConfig, ModelSpec, config_from_dict

GATEWAY: Final = "abgate-gateway"
CONFIG_MAP: Final = "abgate-experiment"
CONFIG_DIR: Final = "/etc/abgate"
PORT: Final = 8080
UID: Final = 10001  # the Dockerfile's abgate user

_RESTRICTED_CONTAINER: Final = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def backend_url(model: str, options: RenderOptions, ns: str) -> str:
    """In-cluster base URL of a model's V2 server."""
    if options.backend == "kserve":  # RawDeployment: Service <isvc>-predictor, port 80
        return f"http://{model}-predictor.{ns}.svc.cluster.local"
    return f"http://{model}-mlserver.{ns}.svc.cluster.local:8080"


def cluster_config(config: GatewayConfig, options: RenderOptions, ns: str) -> GatewayConfig:
    """The experiment as the replicas run it: registry models become remote backends."""
    doc = config.model_dump(mode="json", exclude_none=True)
    models: list[dict[str, Any]] = []
    for spec in config.models:
        if spec.is_remote:
            models.append(spec.model_dump(mode="json", exclude_none=True))
            continue
        remote: dict[str, Any] = {
            "name": spec.name,
            "url": backend_url(spec.name, options, ns),
            "remote_name": spec.name,
            "timeout_ms": spec.timeout_ms,
        }
        if isinstance(spec.version, int):
            remote["remote_version"] = str(spec.version)
        models.append(remote)
    doc["models"] = models
    return config_from_dict(doc, "rendered gateway config")  # what the replicas will load


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _secret_env(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _gateway_deployment(ns: str, options: RenderOptions, config_sha: str) -> Manifest:
    selector = {"app.kubernetes.io/name": "abgate", "app.kubernetes.io/component": "gateway"}
    container = {
        "name": "gateway",
        "image": options.image,
        "args": ["serve", "--expose", "--log-level", "info"],
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": [
            {"name": "ABGATE_CONFIG", "value": f"{CONFIG_DIR}/experiment.yaml"},
            {"name": "ABGATE_HOST", "value": "0.0.0.0"},
            {"name": "ABGATE_PORT", "value": str(PORT)},
            # strict: a reply means the event is committed, so feedback sent to any replica
            # finds the prediction whichever replica served it.
            {"name": "ABGATE_DURABILITY", "value": "strict"},
            _secret_env("ABGATE_EVENTS_DB", options.events_secret, "url"),
            _secret_env("ABGATE_ADMIN_TOKEN", options.admin_secret, "token"),
            {"name": "HOME", "value": "/tmp"},
            {"name": "PYTHONUNBUFFERED", "value": "1"},
        ],
        "readinessProbe": _probe("/v2/health/ready", 5, 3),
        "livenessProbe": _probe("/v2/health/live", 10, 3),
        "startupProbe": _probe("/v2/health/live", 2, 30),
        "resources": {
            "requests": {"cpu": "500m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "securityContext": _RESTRICTED_CONTAINER,
        # Let the Service stop sending traffic before uvicorn stops accepting it.
        "lifecycle": {"preStop": {"exec": {"command": ["sleep", "5"]}}},
        "volumeMounts": [
            {"name": "experiment", "mountPath": CONFIG_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    pod = {
        # Service links would inject variables such as ABGATE_GATEWAY_PORT into the container,
        # next to the ABGATE_* settings; none are needed.
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 30,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": UID,
            "runAsGroup": UID,
            "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": selector},
            }
        ],
        "containers": [container],
        "volumes": [
            {"name": "experiment", "configMap": {"name": CONFIG_MAP}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        ],
    }
    template_meta = {
        "labels": labels("gateway"),
        # A changed experiment rolls the replicas.
        "annotations": {"abgate.io/experiment-sha256": config_sha},
    }
    return obj(
        "apps/v1",
        "Deployment",
        GATEWAY,
        ns,
        "gateway",
        spec={
            "replicas": options.replicas,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
            "template": {"metadata": template_meta, "spec": pod},
        },
    )


def _inference_service(spec: ModelSpec, ns: str, options: RenderOptions) -> Manifest:
    model: dict[str, Any] = {
        "modelFormat": {"name": "onnx"},
        "runtime": "kserve-tritonserver",
        "protocolVersion": "v2",
        "storageUri": options.model_uri("triton", spec.name),
        "resources": {
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
    }
    return obj(
        "serving.kserve.io/v1beta1",
        "InferenceService",
        spec.name,
        ns,
        "backend",
        annotations={"serving.kserve.io/deploymentMode": "RawDeployment"},
        spec={"predictor": {"minReplicas": 1, "maxReplicas": 3, "model": model}},
    )


def _mlserver(spec: ModelSpec, ns: str, options: RenderOptions) -> list[Manifest]:
    name = f"{spec.name}-mlserver"
    selector = {"app.kubernetes.io/name": "abgate", "abgate.io/model": spec.name}
    models = {"name": "models", "mountPath": "/mnt/models"}
    init = {
        "name": "storage-initializer",
        "image": options.storage_initializer_image,
        "args": [options.model_uri("mlserver", spec.name), f"/mnt/models/{spec.name}"],
        "volumeMounts": [models],
        "securityContext": _RESTRICTED_CONTAINER | {"readOnlyRootFilesystem": False},
    }
    server = {
        "name": "mlserver",
        "image": options.mlserver_image,
        "command": ["mlserver", "start", "/mnt/models"],
        "env": [
            {"name": "MLSERVER_HTTP_PORT", "value": "8080"},
            {"name": "MLSERVER_GRPC_PORT", "value": "8081"},
            {"name": "MLSERVER_METRICS_PORT", "value": "8082"},
        ],
        "ports": [
            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
            {"name": "grpc", "containerPort": 8081, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 8082, "protocol": "TCP"},
        ],
        "readinessProbe": _probe("/v2/health/ready", 5, 3),
        "livenessProbe": _probe("/v2/health/live", 10, 3),
        "resources": {
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        # MLServer writes to its home and temp folders: the root filesystem stays writable.
        "securityContext": _RESTRICTED_CONTAINER | {"readOnlyRootFilesystem": False},
        "volumeMounts": [models | {"readOnly": True}],
    }
    pod = {
        "enableServiceLinks": False,
        "automountServiceAccountToken": False,
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "fsGroup": 1000},
        "initContainers": [init],
        "containers": [server],
        "volumes": [{"name": "models", "emptyDir": {}}],
    }
    model_label = {"abgate.io/model": spec.name}
    deployment = obj(
        "apps/v1",
        "Deployment",
        name,
        ns,
        "backend",
        extra_labels=model_label,
        spec={
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels("backend") | model_label},
                "spec": pod,
            },
        },
    )
    service = obj(
        "v1",
        "Service",
        name,
        ns,
        "backend",
        extra_labels=model_label,
        spec={
            "selector": selector,
            "ports": [
                {"name": "http", "port": 8080, "targetPort": "http", "protocol": "TCP"},
                {"name": "metrics", "port": 8082, "targetPort": "metrics", "protocol": "TCP"},
            ],
        },
    )
    return [deployment, service]


def render_gateway(
    config: GatewayConfig, options: RenderOptions
) -> tuple[list[Manifest], list[str]]:
    """The objects of the gateway base, in apply order, and notes for the user."""
    ns = options.namespace_for("gateway")
    notes = [
        f"create Secret {options.events_secret} (key url: postgresql://...) and Secret "
        f"{options.admin_secret} (key token) in namespace {ns} before applying",
    ]
    runtime_config = cluster_config(config, options, ns)
    experiment_yaml = (
        "# Rendered by `abgate k8s render --target gateway`: registry models point at their "
        "backends.\n" + to_yaml(runtime_config.model_dump(mode="json", exclude_none=True))
    )
    config_sha = hashlib.sha256(experiment_yaml.encode()).hexdigest()
    selector = {"app.kubernetes.io/name": "abgate", "app.kubernetes.io/component": "gateway"}
    objects: list[Manifest] = [
        namespace(ns),
        obj(
            "v1", "ConfigMap", CONFIG_MAP, ns, "gateway", data={"experiment.yaml": experiment_yaml}
        ),
    ]
    for spec in config.models:
        if spec.is_remote:
            note = f"model {spec.name}: served at {spec.url}, no backend rendered"
            if urlsplit(spec.url or "").hostname in ("localhost", "127.0.0.1", "::1"):
                note += " (a loopback URL inside a pod is the pod itself: change it)"
            notes.append(note)
        elif options.backend == "kserve":
            objects.append(_inference_service(spec, ns, options))
        else:
            objects += _mlserver(spec, ns, options)
    objects += [
        _gateway_deployment(ns, options, config_sha),
        obj(
            "v1",
            "Service",
            GATEWAY,
            ns,
            "gateway",
            spec={
                "selector": selector,
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        ),
        obj(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            GATEWAY,
            ns,
            "gateway",
            spec={
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": GATEWAY},
                "minReplicas": options.replicas,
                "maxReplicas": options.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
        ),
        ingress(GATEWAY, ns, options.host, GATEWAY, 80),
        obj(
            "monitoring.coreos.com/v1",
            "ServiceMonitor",
            GATEWAY,
            ns,
            "monitoring",
            extra_labels=options.monitor_labels,
            spec={
                "selector": {"matchLabels": selector},
                "namespaceSelector": {"matchNames": [ns]},
                "endpoints": [{"port": "http", "path": "/metrics", "interval": "15s"}],
            },
        ),
    ]
    for extra in (prometheus_rule(ns, options, notes), grafana_dashboard(ns, options, notes)):
        if extra is not None:
            objects.append(extra)
    return objects, notes
