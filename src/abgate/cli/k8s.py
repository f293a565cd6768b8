"""``abgate k8s render``: Kubernetes manifests (a kustomize base) for an experiment."""

from __future__ import annotations

from pathlib import Path

import click

from abgate.deploy.common import Backend, RenderOptions, Target
from abgate.deploy.render import TARGETS, render_base


def _labels(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not KEY=VALUE", param_hint="--monitor-label")
        out[key] = val
    return out


@click.group("k8s")
def k8s_group() -> None:
    """Kubernetes deployment of an experiment (see docs/deploy-kubernetes.md)."""


@k8s_group.command("render")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    required=True,
    help="Experiment YAML (the same file `abgate serve --config` reads).",
)
@click.option(
    "--target",
    type=click.Choice(TARGETS),
    required=True,
    help="seldon: Seldon Core v2 Model/Experiment (BSL 1.1). "
    "gateway: the abgate gateway in front of KServe or MLServer (Apache-2.0).",
)
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Base folder."
)
@click.option("--namespace", default=None, help="[default: seldon-mesh | abgate]")
@click.option("--host", default=RenderOptions.host, show_default=True, help="Ingress host.")
@click.option(
    "--storage-uri",
    default=RenderOptions.storage_uri,
    show_default=True,
    help="Where exported models live: URI/mlserver/NAME and URI/triton/NAME.",
)
@click.option("--image", default=RenderOptions.image, show_default=True, help="Gateway image.")
@click.option(
    "--replicas", type=click.IntRange(1), default=RenderOptions.replicas, show_default=True
)
@click.option(
    "--max-replicas", type=click.IntRange(1), default=RenderOptions.max_replicas, show_default=True
)
@click.option(
    "--backend",
    type=click.Choice(["kserve", "mlserver"]),
    default=RenderOptions.backend,
    show_default=True,
    help="gateway target: KServe InferenceServices or plain MLServer Deployments.",
)
@click.option(
    "--memory",
    default=RenderOptions.model_memory,
    show_default=True,
    help="seldon target: memory each Model reserves.",
)
@click.option(
    "--requirement",
    "requirements",
    multiple=True,
    help="seldon target: server capability a Model needs (repeat) [default: python].",
)
@click.option(
    "--monitor-label",
    "monitor_labels",
    multiple=True,
    metavar="KEY=VALUE",
    help="Label on monitors and rules, e.g. release=kube-prometheus-stack (repeat).",
)
def render_command(
    config_path: Path,
    target: Target,
    out: Path,
    namespace: str | None,
    host: str,
    storage_uri: str,
    image: str,
    replicas: int,
    max_replicas: int,
    backend: Backend,
    memory: str,
    requirements: tuple[str, ...],
    monitor_labels: tuple[str, ...],
) -> None:
    """Write a kustomize base for the experiment; apply with `kubectl apply -k OUT`.

    \b
    Examples:
      abgate k8s render --config examples/experiment.yaml --target gateway --out deploy/k8s/gw
      abgate k8s render --config examples/experiment.yaml --target seldon --out deploy/k8s/seldon
    """
    options = RenderOptions(
        namespace=namespace,
        host=host,
        storage_uri=storage_uri,
        image=image,
        replicas=replicas,
        max_replicas=max_replicas,
        backend=backend,
        model_memory=memory,
        requirements=requirements or RenderOptions.requirements,
        monitor_labels=_labels(monitor_labels),
    )
    result = render_base(config_path, target, out, options)
    click.echo(f"wrote {len(result.files)} objects to {result.folder} (kubectl apply -k {out})")
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
