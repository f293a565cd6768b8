"""Write a target's objects as a kustomize base: one YAML file per object + ``kustomization.yaml``.

The folder is written whole into a temporary sibling and swapped in, so a base is never half
written; re-rendering replaces an earlier base, and any other non-empty folder is left alone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, get_args

from abgate.deploy.common import Manifest, RenderOptions, Target, to_yaml
from abgate.deploy.gateway import render_gateway
from abgate.deploy.seldon import render_seldon
from abgate.errors import ConfigError
from abgate.gateway.config import GatewayConfig, load_config

TARGETS: Final = get_args(Target)
_RENDERERS: Final[
    dict[str, Callable[[GatewayConfig, RenderOptions], tuple[list[Manifest], list[str]]]]
] = {"seldon": render_seldon, "gateway": render_gateway}
MARKER: Final = "# Rendered by abgate k8s render"


@dataclass(frozen=True)
class RenderResult:
    folder: Path
    files: tuple[str, ...]
    """Object files in ``kustomization.yaml`` order."""
    notes: tuple[str, ...]
    """What the user must know: ignored settings, skipped assets, Secrets to create."""


def render(
    config: GatewayConfig, target: Target, options: RenderOptions
) -> tuple[list[Manifest], list[str]]:
    """The target's objects (in apply order) and notes, without writing anything."""
    if target not in _RENDERERS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    return _RENDERERS[target](config, options)


def file_name(manifest: Manifest) -> str:
    kind = str(manifest["kind"]).lower()
    return f"{kind}.yaml" if kind == "namespace" else f"{kind}-{manifest['metadata']['name']}.yaml"


def _is_earlier_base(folder: Path) -> bool:
    kustomization = folder / "kustomization.yaml"
    return kustomization.is_file() and kustomization.read_text().startswith(MARKER)


def render_base(
    config: GatewayConfig | str | Path,
    target: Target,
    out: str | Path,
    options: RenderOptions | None = None,
) -> RenderResult:
    """Render ``target`` for ``config`` (a config or a YAML path) into the folder ``out``."""
    cfg = config if isinstance(config, GatewayConfig) else load_config(config)
    options = options or RenderOptions()
    objects, notes = render(cfg, target, options)
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not _is_earlier_base(out))):
        raise ConfigError(f"--out {out}: exists and is not an earlier abgate base; choose another")
    header = f"{MARKER} --target {target}; edit the experiment and render again.\n"
    files: list[str] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        tmp.chmod(0o755)
        for manifest in objects:
            name = file_name(manifest)
            if name in files:
                raise ConfigError(f"two objects would be written to {name}")
            (tmp / name).write_text(header + to_yaml(manifest))
            files.append(name)
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": files,
        }
        (tmp / "kustomization.yaml").write_text(header + to_yaml(kustomization))
        if out.exists():
            shutil.rmtree(out)
        os.rename(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return RenderResult(out, tuple(files), tuple(notes))
