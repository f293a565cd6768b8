"""``abgate k8s render``: every object passes the Kubernetes schemas (kubernetes-validate, offline)
or, for custom resources, the JSON schemas in ``deploy/schemas/`` written from their CRDs; the
objects say what the experiment says; the Dockerfile keeps PyTorch out and runs as non-root."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from abgate.cli.k8s import k8s_group
from abgate.deploy.common import RenderOptions
from abgate.deploy.render import MARKER, render_base
from abgate.deploy.seldon import integer_weights
from abgate.errors import ConfigError
from abgate.gateway.config import config_from_dict, load_config

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="pip install kubernetes-validate"
)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "experiment.yaml"
SCHEMAS = ROOT / "deploy" / "schemas"
RULES = ROOT / "deploy" / "prometheus" / "abgate-rules.yaml"
DASHBOARD = ROOT / "deploy" / "grafana" / "abgate-ab-testing.json"
K8S_VERSION = "1.33"  # a version kubernetes-validate ships schemas for (1.25 … 1.37)
Doc = dict[str, Any]


def crd_validators() -> dict[tuple[str, str], jsonschema.Draft202012Validator]:
    out = {}
    for path in SCHEMAS.glob("*.json"):
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        key = (schema["properties"]["apiVersion"]["const"], schema["properties"]["kind"]["const"])
        out[key] = jsonschema.Draft202012Validator(schema)
    return out


VALIDATORS = crd_validators()


def validate(doc: Doc) -> None:
    """Raise if ``doc`` is not a valid object of its kind."""
    key = (doc["apiVersion"], doc["kind"])
    if key in VALIDATORS:
        VALIDATORS[key].validate(doc)
    else:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def load_base(folder: Path) -> dict[str, Doc]:
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    files = kustomization["resources"]
    assert sorted(files) == sorted(
        p.name for p in folder.glob("*.yaml") if p.name != "kustomization.yaml"
    )
    return {name: yaml.safe_load((folder / name).read_text()) for name in files}


def by_kind(docs: dict[str, Doc], kind: str) -> list[Doc]:
    return [d for d in docs.values() if d["kind"] == kind]


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Doc]]:
    root = tmp_path_factory.mktemp("k8s")
    out = {}
    for label, target, backend in (
        ("seldon", "seldon", "kserve"),
        ("gateway-kserve", "gateway", "kserve"),
        ("gateway-mlserver", "gateway", "mlserver"),
    ):
        options = RenderOptions(backend=backend, host="ab.example.org", replicas=3)
        render_base(EXAMPLE, target, root / label, options)  # type: ignore[arg-type]
        out[label] = load_base(root / label)
    return out


# -- validity ------------------------------------------------------------------------------------


@pytest.mark.parametrize("label", ["seldon", "gateway-kserve", "gateway-mlserver"])
def test_every_object_validates(bases: dict[str, dict[str, Doc]], label: str) -> None:
    for name, doc in bases[label].items():
        try:
            validate(doc)
        except (jsonschema.ValidationError, kubernetes_validate.ValidationError) as exc:
            pytest.fail(f"{label}/{name}: {exc.message} at {list(exc.absolute_path)}")


def test_validators_catch_mistakes(bases: dict[str, dict[str, Doc]]) -> None:
    """Each validator rejects a plausible mistake, so a green test above means something."""
    gw, seldon = bases["gateway-kserve"], bases["seldon"]
    deployment = by_kind(gw, "Deployment")[0]
    typo = json.loads(json.dumps(deployment))
    typo["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    bad_port = json.loads(json.dumps(deployment))
    bad_port["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "http"
    experiment = json.loads(json.dumps(by_kind(seldon, "Experiment")[0]))
    experiment["spec"]["candidates"][0]["weight"] = 0.7  # Seldon weights are int32
    model = json.loads(json.dumps(by_kind(seldon, "Model")[0]))
    del model["spec"]["storageUri"]
    isvc = json.loads(json.dumps(by_kind(gw, "InferenceService")[0]))
    isvc["spec"]["predictor"]["model"]["protocolVersion"] = "v3"
    rule = json.loads(json.dumps(by_kind(gw, "PrometheusRule")[0]))
    del rule["spec"]["groups"][0]["rules"][0]["expr"]
    for broken in (typo, bad_port, experiment, model, isvc, rule):
        with pytest.raises((jsonschema.ValidationError, kubernetes_validate.ValidationError)):
            validate(broken)


# -- seldon --------------------------------------------------------------------------------------


def test_seldon_models_experiment_ingress_and_monitors(bases: dict[str, dict[str, Doc]]) -> None:
    docs = bases["seldon"]
    config = load_config(EXAMPLE)
    (ns,) = by_kind(docs, "Namespace")
    assert ns["metadata"]["name"] == "seldon-mesh"
    models = {m["metadata"]["name"]: m["spec"] for m in by_kind(docs, "Model")}
    assert set(models) == {m.name for m in config.models}
    assert models["baseline-predictor"] == {
        "storageUri": "s3://abgate-models/mlserver/baseline-predictor",
        "requirements": ["python"],
        "memory": "100Mi",
    }
    (experiment,) = by_kind(docs, "Experiment")
    assert experiment["metadata"]["name"] == "financial-ab-test-experiment"
    assert experiment["spec"] == {
        "default": "baseline-predictor",
        "candidates": [
            {"name": "baseline-predictor", "weight": 70},
            {"name": "enhanced-predictor", "weight": 30},
        ],
        "mirror": {"name": "enhanced-predictor", "percent": 10},
        "resourceType": "model",
    }
    (ingress,) = by_kind(docs, "Ingress")
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "ab.example.org"
    path = rule["http"]["paths"][0]
    assert path["backend"]["service"] == {"name": "seldon-mesh", "port": {"number": 80}}
    rewrite = ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"]
    match = re.fullmatch(path["path"], "/seldon/v2/models/baseline-predictor/infer")
    assert match is not None
    assert re.sub(r"\$(\d)", lambda m: match.group(int(m.group(1))), rewrite) == (
        "/v2/models/baseline-predictor/infer"
    )
    (agents,) = by_kind(docs, "PodMonitor")
    assert agents["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    assert by_kind(docs, "ServiceMonitor")[0]["spec"]["endpoints"][0]["path"] == "/stats/prometheus"


def test_seldon_weights_and_what_cannot_be_expressed(tmp_path: Path) -> None:
    assert integer_weights({"a": 70.0, "b": 30.0}) == {"a": 70, "b": 30}
    assert integer_weights({"a": 2.5, "b": 7.5}) == {"a": 1, "b": 3}
    assert integer_weights({"a": 0.1, "b": 0.2, "c": 0.0}) == {"a": 1, "b": 2, "c": 0}
    doc = {
        "models": [{"name": "a"}, {"name": "b"}],
        "name": "exp",
        "default": "a",
        "candidates": [{"name": "a", "weight": 2.5}, {"name": "b", "weight": 7.5}],
        "rollout": {"steps": [10, 50]},
    }
    result = render_base(config_from_dict(doc), "seldon", tmp_path / "ok")
    assert any("written as {'a': 1, 'b': 3}" in n for n in result.notes)
    assert any("rollout" in n for n in result.notes)
    doc["mirror"] = {"name": "b", "percent": 12.5}
    with pytest.raises(ConfigError, match="whole percent"):
        render_base(config_from_dict(doc), "seldon", tmp_path / "bad")


# -- gateway -------------------------------------------------------------------------------------


def test_gateway_deployment_is_hardened_and_probed(bases: dict[str, dict[str, Doc]]) -> None:
    docs = bases["gateway-kserve"]
    deployment = next(
        d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "abgate-gateway"
    )
    assert deployment["spec"]["replicas"] == 3
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert {"requests", "limits"} <= set(container["resources"])
    env = {e["name"]: e for e in container["env"]}
    assert env["ABGATE_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "abgate-admin",
        "key": "token",
    }
    assert env["ABGATE_EVENTS_DB"]["valueFrom"]["secretKeyRef"] == {
        "name": "abgate-events",
        "key": "url",
    }
    assert env["ABGATE_DURABILITY"]["value"] == "strict"
    assert not by_kind(docs, "Secret")  # referenced, never rendered
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler")
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 6)
    (service,) = [s for s in by_kind(docs, "Service") if s["metadata"]["name"] == "abgate-gateway"]
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= template_labels.items()
    (ingress,) = by_kind(docs, "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == "ab.example.org"
    (monitor,) = by_kind(docs, "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0] == {
        "port": "http",
        "path": "/metrics",
        "interval": "15s",
    }


@pytest.mark.parametrize("label", ["gateway-kserve", "gateway-mlserver"])
def test_gateway_config_points_every_model_at_a_rendered_backend(
    bases: dict[str, dict[str, Doc]], label: str, tmp_path: Path
) -> None:
    docs = bases[label]
    (config_map,) = [
        c for c in by_kind(docs, "ConfigMap") if c["metadata"]["name"] == "abgate-experiment"
    ]
    path = tmp_path / "experiment.yaml"
    path.write_text(config_map["data"]["experiment.yaml"])
    runtime = load_config(path)  # exactly what the replicas load
    original = load_config(EXAMPLE)
    assert runtime.experiments == original.experiments
    if label == "gateway-kserve":
        backends = {
            f"http://{d['metadata']['name']}-predictor.abgate.svc.cluster.local": d
            for d in by_kind(docs, "InferenceService")
        }
    else:
        services = [
            s for s in by_kind(docs, "Service") if s["metadata"]["name"] != "abgate-gateway"
        ]
        backends = {
            f"http://{name}.abgate.svc.cluster.local:{s['spec']['ports'][0]['port']}": s
            for s in services
            if (name := s["metadata"]["name"])
        }
    for spec in runtime.models:
        assert spec.is_remote
        if original.get_model(spec.name).is_remote:  # type: ignore[union-attr]
            continue
        assert spec.url in backends, (spec.url, sorted(backends))
        assert spec.remote_name == spec.name
    if label == "gateway-kserve":
        predictor = backends[runtime.get_model("baseline-predictor").url]["spec"]["predictor"]  # type: ignore[union-attr,index]
        assert predictor["model"]["storageUri"] == "s3://abgate-models/triton/baseline-predictor"
        assert predictor["model"]["protocolVersion"] == "v2"
    else:
        deployment = next(
            d
            for d in by_kind(docs, "Deployment")
            if d["metadata"]["name"] == "baseline-predictor-mlserver"
        )
        init = deployment["spec"]["template"]["spec"]["initContainers"][0]
        assert init["args"] == [
            "s3://abgate-models/mlserver/baseline-predictor",
            "/mnt/models/baseline-predictor",
        ]


# -- shared: monitoring assets, files --------------------------------------------------------------


@pytest.mark.parametrize("label", ["seldon", "gateway-kserve"])
def test_rules_and_dashboard_come_from_the_repository(
    bases: dict[str, dict[str, Doc]], label: str
) -> None:
    docs = bases[label]
    if RULES.exists():
        (rule,) = by_kind(docs, "PrometheusRule")
        assert rule["spec"]["groups"] == yaml.safe_load(RULES.read_text())["groups"]
    if DASHBOARD.exists():
        (cm,) = [
            c
            for c in by_kind(docs, "ConfigMap")
            if c["metadata"]["name"] == "abgate-grafana-dashboard"
        ]
        assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(cm["data"][DASHBOARD.name]) == json.loads(DASHBOARD.read_text())


def test_missing_assets_are_skipped_with_a_note(tmp_path: Path) -> None:
    result = render_base(
        EXAMPLE, "gateway", tmp_path / "out", RenderOptions(assets=tmp_path / "none")
    )
    assert any("PrometheusRule skipped" in n for n in result.notes)
    assert any("Grafana dashboard skipped" in n for n in result.notes)
    kinds = {yaml.safe_load((tmp_path / "out" / f).read_text())["kind"] for f in result.files}
    assert "PrometheusRule" not in kinds


def test_out_folder_is_replaced_only_when_it_is_an_earlier_base(tmp_path: Path) -> None:
    out = tmp_path / "base"
    render_base(EXAMPLE, "seldon", out)
    assert (out / "kustomization.yaml").read_text().startswith(MARKER)
    (out / "stale.yaml").write_text("x: 1\n")
    render_base(EXAMPLE, "gateway", out)  # an earlier base: replaced whole
    assert not (out / "stale.yaml").exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not an earlier abgate base"):
        render_base(EXAMPLE, "seldon", foreign)
    assert (foreign / "keep.txt").read_text() == "mine"


def test_cli(tmp_path: Path) -> None:
    args = ["render", "--config", str(EXAMPLE), "--target", "seldon", "--out", str(tmp_path / "b")]
    result = CliRunner().invoke(
        k8s_group, [*args, "--namespace", "ml", "--monitor-label", "release=kps"]
    )
    assert result.exit_code == 0, result.output
    assert "kubectl apply -k" in result.output
    docs = load_base(tmp_path / "b")
    assert {d["metadata"].get("namespace") for d in docs.values()} == {None, "ml"}
    assert by_kind(docs, "PodMonitor")[0]["metadata"]["labels"]["release"] == "kps"
    bad = CliRunner().invoke(k8s_group, [*args, "--monitor-label", "nokey"])
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output


# -- Dockerfile ----------------------------------------------------------------------------------


def _stages(text: str) -> dict[str, list[str]]:
    """Instructions per build stage (continuation lines joined, comments dropped)."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")),
    )
    stages: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in joined.splitlines():
        if match := re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?", line, re.IGNORECASE):
            current = stages.setdefault(match.group(1) or f"stage{len(stages)}", [])
        if current is not None and line.strip():
            current.append(line.strip())
    return stages


def test_dockerfile_is_multi_stage_non_root_and_torch_free() -> None:
    stages = _stages((ROOT / "Dockerfile").read_text())
    assert list(stages) == ["build", "runtime"]
    runtime = stages["runtime"]
    assert not any("torch" in line.lower() for line in runtime)
    assert not any(re.match(r"RUN\s.*pip install", line) for line in runtime)  # copies the venv
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert any(line.startswith("COPY --from=build") for line in runtime)
    assert 'ENTRYPOINT ["abgate"]' in runtime
    build = " ".join(stages["build"])
    assert "--constraint requirements.lock" in build
    assert "! /opt/abgate/bin/pip show torch" in build  # the build fails if torch slipped in
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "models"} <= set(ignored)
