"""Package a registered model for a standard model server: MLServer or Triton Inference Server.

Both layouts are *model repositories*: ``OUT`` can be handed to the server as it is, and one
``OUT`` may hold several models (export each into it)::

    mlserver                                  triton
    OUT/<name>/model-settings.json            OUT/<name>/config.pbtxt
    OUT/<name>/model.onnx                     OUT/<name>/<version>/model.onnx
    OUT/<name>/abgate_runtime.py
    OUT/<name>/card.json

The MLServer folder is self-contained: it carries the abgate runtime class as a module beside
the model (MLServer puts a model's folder on ``sys.path`` while it imports the implementation),
so a stock MLServer with ``onnxruntime`` serves it, without abgate installed — which is what a
Seldon Core v2 ``Model`` pointing at the folder needs. Triton runs the ONNX graph directly with
its ``onnxruntime`` backend and batches requests itself (dynamic batching).

The version folder of the Triton export is the registry version, so ``model_version`` in the
server's replies is the registry version too (``1`` for a first model).
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final, Literal, get_args

from abgate.errors import ConfigError, RegistryError
from abgate.registry.card import TensorSpec
from abgate.registry.store import ModelVersion, Registry, mlserver_settings

ExportFormat = Literal["mlserver", "triton"]
EXPORT_FORMATS: Final = get_args(ExportFormat)
RUNTIME_MODULE: Final = "abgate_runtime"
RUNTIME_CLASS: Final = f"{RUNTIME_MODULE}.DirectionRuntime"

# Open Inference Protocol datatype → Triton model-config data type.
_TRITON_TYPES: Final = {
    "BOOL": "TYPE_BOOL",
    "UINT8": "TYPE_UINT8",
    "INT8": "TYPE_INT8",
    "INT16": "TYPE_INT16",
    "INT32": "TYPE_INT32",
    "INT64": "TYPE_INT64",
    "FP16": "TYPE_FP16",
    "FP32": "TYPE_FP32",
    "FP64": "TYPE_FP64",
    "BYTES": "TYPE_STRING",
}
_REF = re.compile(r"^(?P<name>[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(:(?P<version>\w+))?$")


def parse_model_ref(ref: str) -> tuple[str, int | Literal["latest"]]:
    """``NAME`` or ``NAME:VERSION`` (an integer or ``latest``) → ``(name, version)``."""
    match = _REF.match(ref)
    version = match.group("version") if match else None
    if match is None or not (version is None or version == "latest" or version.isdigit()):
        raise ConfigError(
            f"--model {ref!r}: expected NAME or NAME:VERSION (e.g. baseline-predictor:1)"
        )
    return match.group("name"), "latest" if version in (None, "latest") else int(version)


def export_model(
    registry: Registry | str | Path,
    ref: str,
    fmt: ExportFormat,
    out: str | Path,
    *,
    max_batch_size: int = 64,
    max_queue_delay_us: int = 500,
    instances: int = 1,
) -> Path:
    """Export ``ref`` (``NAME[:VERSION]``) from the registry; returns the model folder written.

    ``max_batch_size``, ``max_queue_delay_us`` and ``instances`` shape Triton's batching and
    are ignored for MLServer.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"fmt must be one of {EXPORT_FORMATS}, got {fmt!r}")
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    name, version = parse_model_ref(ref)
    mv = reg.get(name, version)
    mv.verify()  # never package a model file that differs from its card
    if fmt == "mlserver":
        return export_mlserver(mv, out)
    return export_triton(
        mv,
        out,
        max_batch_size=max_batch_size,
        max_queue_delay_us=max_queue_delay_us,
        instances=instances,
    )


def _replace_folder(target: Path, fill: Callable[[Path], None]) -> Path:
    """Write ``target`` completely in a temporary sibling, then swap it in (no half exports)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tmp.chmod(0o755)
        fill(tmp)
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def export_mlserver(mv: ModelVersion, out: str | Path) -> Path:
    """``OUT/<name>/``: ``model-settings.json``, ``model.onnx``, the runtime module, the card."""
    settings = mlserver_settings(mv.card)
    settings["implementation"] = RUNTIME_CLASS
    runtime = importlib.resources.files("abgate.serving").joinpath("mlserver_runtime.py")

    def fill(folder: Path) -> None:
        shutil.copyfile(mv.onnx_path, folder / "model.onnx")
        shutil.copyfile(mv.path / "card.json", folder / "card.json")
        (folder / f"{RUNTIME_MODULE}.py").write_text(runtime.read_text(encoding="utf-8"))
        (folder / "model-settings.json").write_text(json.dumps(settings, indent=2) + "\n")

    return _replace_folder(Path(out) / mv.name, fill)


def _triton_type(spec: TensorSpec) -> str:
    try:
        return _TRITON_TYPES[spec.datatype]
    except KeyError:
        raise RegistryError(f"tensor {spec.name!r}: no Triton type for {spec.datatype}") from None


def _tensor_block(specs: list[TensorSpec], batched: bool) -> str:
    entries = []
    for spec in specs:
        dims = spec.shape[1:] if batched else spec.shape
        entries.append(
            "  {\n"
            f'    name: "{spec.name}"\n'
            f"    data_type: {_triton_type(spec)}\n"
            f"    dims: [ {', '.join(str(d) for d in dims)} ]\n"
            "  }"
        )
    return "[\n" + ",\n".join(entries) + "\n]"


def triton_config(
    mv: ModelVersion, *, max_batch_size: int = 64, max_queue_delay_us: int = 500, instances: int = 1
) -> str:
    """``config.pbtxt`` for Triton's onnxruntime backend (protobuf text format)."""
    if max_batch_size < 0 or max_queue_delay_us < 0 or instances < 1:
        raise ValueError("max_batch_size and max_queue_delay_us must be >= 0, instances >= 1")
    card = mv.card
    # Triton owns the batch axis when max_batch_size > 0: dims then leave it out.
    batched = max_batch_size > 0 and all(t.shape and t.shape[0] == -1 for t in card.inputs)
    lines = [
        f"# abgate export: {mv.name} version {mv.version}, model.onnx sha256 "
        f"{card.onnx_sha256[:16]}...",
        f'name: "{mv.name}"',
        'backend: "onnxruntime"',
        f"max_batch_size: {max_batch_size if batched else 0}",
        f"version_policy: {{ specific: {{ versions: [ {mv.version} ] }} }}",
        f"input {_tensor_block(card.inputs, batched)}",
        f"output {_tensor_block(card.outputs, batched)}",
    ]
    if batched:
        lines.append(
            f"dynamic_batching {{\n  max_queue_delay_microseconds: {max_queue_delay_us}\n}}"
        )
    lines.append(f"instance_group [\n  {{\n    count: {instances}\n    kind: KIND_CPU\n  }}\n]")
    return "\n".join(lines) + "\n"


def export_triton(
    mv: ModelVersion,
    out: str | Path,
    *,
    max_batch_size: int = 64,
    max_queue_delay_us: int = 500,
    instances: int = 1,
) -> Path:
    """``OUT/<name>/config.pbtxt`` and ``OUT/<name>/<version>/model.onnx``."""
    config = triton_config(
        mv,
        max_batch_size=max_batch_size,
        max_queue_delay_us=max_queue_delay_us,
        instances=instances,
    )

    def fill(folder: Path) -> None:
        (folder / str(mv.version)).mkdir()
        shutil.copyfile(mv.onnx_path, folder / str(mv.version) / "model.onnx")
        (folder / "config.pbtxt").write_text(config)

    return _replace_folder(Path(out) / mv.name, fill)
