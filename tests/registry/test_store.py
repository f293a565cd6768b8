from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from abgate.errors import RegistryError
from abgate.registry.store import Registry, load_samples, save_samples


@pytest.fixture
def registry(smoke_registry: Path, tmp_path: Path) -> Registry:
    root = tmp_path / "reg"
    shutil.copytree(smoke_registry, root)
    return Registry(root)


def test_register_increments_versions(registry: Registry) -> None:
    mv = registry.get("baseline-predictor")
    fields = mv.card.model_dump(exclude={"name", "version", "onnx_sha256"})
    new = registry.register("baseline-predictor", mv.onnx_path.read_bytes(), fields)
    assert new.version == mv.version + 1
    assert registry.versions("baseline-predictor") == [1, 2]
    assert registry.get("baseline-predictor").version == 2
    assert registry.get("baseline-predictor", 1).version == 1
    assert new.route_name == "baseline-predictor_2"
    new.verify()
    assert not any(p.name.startswith(".incoming") for p in (registry.root / mv.name).iterdir())


def test_model_settings_for_mlserver(registry: Registry) -> None:
    mv = registry.get("enhanced-predictor")
    settings = json.loads((mv.path / "model-settings.json").read_text())
    assert settings["name"] == "enhanced-predictor"
    assert settings["parameters"] == {"uri": "./model.onnx", "version": "1"}
    assert settings["inputs"] == [{"name": "ohlcv", "datatype": "FP32", "shape": [-1, 40, 5]}]
    assert settings["implementation"].startswith("abgate.")


def test_tampered_model_is_detected(registry: Registry) -> None:
    mv = registry.get("baseline-predictor")
    data = bytearray(mv.onnx_path.read_bytes())
    data[-1] ^= 0xFF
    mv.onnx_path.write_bytes(bytes(data))
    with pytest.raises(RegistryError, match="does not match the card"):
        mv.verify()


def test_lookup_errors(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no model 'nope'.*run `abgate train`"):
        registry.get("nope")
    with pytest.raises(RegistryError, match="has no version 9"):
        registry.get("baseline-predictor", 9)
    with pytest.raises(RegistryError, match="must be an integer"):
        registry.get("baseline-predictor", "v1")
    with pytest.raises(RegistryError, match="invalid model name"):
        registry.register("Bad_Name", b"", {})
    assert Registry(tmp_path / "missing").is_empty()
    (registry.root / "baseline-predictor" / "1" / "card.json").write_text("{}")
    with pytest.raises(RegistryError, match="invalid model card"):
        registry.get("baseline-predictor", 1)


def test_samples_round_trip(registry: Registry, tmp_path: Path) -> None:
    original = registry.get("baseline-predictor").load_heldout()
    save_samples(tmp_path / "s.npz", original)
    again = load_samples(tmp_path / "s.npz")
    np.testing.assert_array_equal(again.windows, original.windows)
    np.testing.assert_array_equal(again.dates, original.dates)
    np.testing.assert_array_equal(again.tickers, original.tickers)
    with pytest.raises(RegistryError, match="held-out scenarios are missing"):
        load_samples(tmp_path / "none.npz")
