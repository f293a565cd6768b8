"""``abgate export``: the MLServer and Triton layouts, read back the way the servers read them."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from abgate.cli.export import export_command
from abgate.errors import ConfigError, RegistryError
from abgate.registry.store import Registry, sha256_file
from abgate.serving.export import (
    RUNTIME_CLASS,
    export_model,
    parse_model_ref,
    triton_config,
)


def _triton_model_config() -> ModuleType | None:
    """Triton's ``ModelConfig`` protobuf, shipped inside tritonclient (grpc extra not needed)."""
    spec = importlib.util.find_spec("tritonclient")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "grpc" / "model_config_pb2.py"
    if not path.exists() or importlib.util.find_spec("google.protobuf") is None:
        return None
    module_spec = importlib.util.spec_from_file_location("triton_model_config_pb2", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_model_refs() -> None:
    assert parse_model_ref("baseline-predictor") == ("baseline-predictor", "latest")
    assert parse_model_ref("baseline-predictor:3") == ("baseline-predictor", 3)
    assert parse_model_ref("baseline-predictor:latest") == ("baseline-predictor", "latest")
    for bad in ("Baseline", "x:y", "a:1:2", ""):
        with pytest.raises(ConfigError, match="NAME"):
            parse_model_ref(bad)


def test_mlserver_folder_is_self_contained(smoke_registry: Path, tmp_path: Path) -> None:
    folder = export_model(smoke_registry, "enhanced-predictor:1", "mlserver", tmp_path)
    assert folder == tmp_path / "enhanced-predictor"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["abgate_runtime.py", "card.json", "model-settings.json", "model.onnx"]
    settings = json.loads((folder / "model-settings.json").read_text())
    assert settings["name"] == "enhanced-predictor"
    assert settings["implementation"] == RUNTIME_CLASS
    assert settings["parameters"] == {"uri": "./model.onnx", "version": "1"}
    assert settings["inputs"][0] == {"name": "ohlcv", "datatype": "FP32", "shape": [-1, 40, 5]}
    mv = Registry(smoke_registry).get("enhanced-predictor", 1)
    assert sha256_file(folder / "model.onnx") == mv.card.onnx_sha256
    runtime = (folder / "abgate_runtime.py").read_text()
    assert "import abgate" not in runtime and "from abgate" not in runtime  # no abgate needed

    # Exporting again replaces the folder (no stale files survive).
    (folder / "stale.txt").write_text("x")
    export_model(smoke_registry, "enhanced-predictor", "mlserver", tmp_path)
    assert not (folder / "stale.txt").exists()


def test_triton_repository_layout_and_config(smoke_registry: Path, tmp_path: Path) -> None:
    folder = export_model(
        smoke_registry, "baseline-predictor", "triton", tmp_path, max_batch_size=32
    )
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) == [
        "1",
        "1/model.onnx",
        "config.pbtxt",
    ]
    text = (folder / "config.pbtxt").read_text()
    pb = _triton_model_config()
    if pb is None:  # plain text checks only
        for line in ('name: "baseline-predictor"', 'backend: "onnxruntime"', "dims: [ 40, 5 ]"):
            assert line in text
        return
    from google.protobuf import text_format

    config = text_format.Parse(text, pb.ModelConfig())  # raises on any unknown field or value
    assert config.name == "baseline-predictor"
    assert config.backend == "onnxruntime"
    assert config.max_batch_size == 32
    assert list(config.version_policy.specific.versions) == [1]
    (inp,) = config.input
    assert (inp.name, list(inp.dims)) == ("ohlcv", [40, 5])
    assert inp.data_type == pb.TYPE_FP32
    (out,) = config.output
    assert (out.name, list(out.dims), out.data_type) == ("probability_up", [1], pb.TYPE_FP32)
    assert config.dynamic_batching.max_queue_delay_microseconds == 500
    assert config.instance_group[0].kind == pb.ModelInstanceGroup.KIND_CPU


def test_triton_without_batching_keeps_the_batch_axis(smoke_registry: Path) -> None:
    mv = Registry(smoke_registry).get("baseline-predictor")
    text = triton_config(mv, max_batch_size=0)
    assert "max_batch_size: 0" in text
    assert "dims: [ -1, 40, 5 ]" in text
    assert "dynamic_batching" not in text


def test_refuses_a_model_file_that_differs_from_its_card(
    smoke_registry: Path, tmp_path: Path
) -> None:
    registry = tmp_path / "registry"
    shutil.copytree(smoke_registry, registry)
    onnx = Registry(registry).get("baseline-predictor").onnx_path
    onnx.write_bytes(onnx.read_bytes() + b"\0")
    with pytest.raises(RegistryError, match="does not match the card"):
        export_model(registry, "baseline-predictor", "triton", tmp_path / "out")


def test_cli(smoke_registry: Path, tmp_path: Path) -> None:
    args = ["--registry", str(smoke_registry), "--model", "baseline-predictor"]
    result = CliRunner().invoke(
        export_command, [*args, "--format", "triton", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "exported baseline-predictor (triton)" in result.output
    assert (tmp_path / "baseline-predictor" / "config.pbtxt").exists()
