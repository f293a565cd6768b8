"""Training determinism, ONNX parity and the registry round trip (smoke mode: 1 epoch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from abgate.errors import ParityError
from abgate.market.sources import load_sample
from abgate.market.windows import build_split
from abgate.models.config import BASELINE
from abgate.models.export import export_onnx
from abgate.models.train import predict_proba, train_model
from abgate.registry.store import Registry


@pytest.fixture(scope="module")
def split():  # type: ignore[no-untyped-def]
    return build_split(load_sample())


def smoke(split, seed: int):  # type: ignore[no-untyped-def]
    return train_model(BASELINE.with_epochs(1), split, seed=seed, max_train_samples=256)


def test_same_seed_same_model(split) -> None:  # type: ignore[no-untyped-def]
    a, b = smoke(split, 11), smoke(split, 11)
    assert a.test_metrics == b.test_metrics
    np.testing.assert_array_equal(
        predict_proba(a.model, split.test.windows), predict_proba(b.model, split.test.windows)
    )
    c = smoke(split, 12)
    assert not np.array_equal(
        predict_proba(a.model, split.test.windows), predict_proba(c.model, split.test.windows)
    )


def test_export_parity_on_whole_test_split(split) -> None:  # type: ignore[no-untyped-def]
    result = smoke(split, 5)
    exported = export_onnx(result.model, split.test.windows)
    assert exported.checked == len(split.test)
    assert exported.max_abs_diff <= 1e-5
    session = ort.InferenceSession(exported.onnx_bytes, providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    (out,) = session.get_outputs()
    assert (inp.name, inp.shape, inp.type) == ("ohlcv", ["batch", 40, 5], "tensor(float)")
    assert (out.name, out.shape) == ("probability_up", ["batch", 1])
    got = session.run(None, {"ohlcv": split.test.windows[:3]})[0]
    assert got.shape == (3, 1)
    # A tolerance the float32 graph cannot meet makes the export refuse the model.
    with pytest.raises(ParityError, match="refusing the export"):
        export_onnx(
            result.model, split.test.windows, tolerance=0.0 if exported.max_abs_diff else -1
        )


def test_smoke_registry_round_trip(smoke_registry: Path) -> None:
    reg = Registry(smoke_registry)
    assert reg.names() == ["baseline-predictor", "enhanced-predictor"]
    mv = reg.get("enhanced-predictor")
    mv.verify()
    card = mv.card
    assert card.seed_parameter_count_at_350 == 139_841
    assert card.epochs_run == 1 and card.data.source == "sample"
    assert set(card.metrics["test"]) >= {
        "accuracy",
        "balanced_accuracy",
        "roc_auc",
        "log_loss",
        "brier",
        "f1",
        "strategy_mean_return",
        "buy_and_hold_mean_return",
    }
    heldout = mv.load_heldout()
    assert len(heldout) == card.metrics["test"]["n"]
    session = ort.InferenceSession(str(mv.onnx_path), providers=["CPUExecutionProvider"])
    probs = session.run(None, {"ohlcv": heldout.windows})[0].reshape(-1)
    accuracy = float(((probs > 0.5) == heldout.labels).mean())
    assert accuracy == pytest.approx(card.metrics["test"]["accuracy"], abs=1e-9)
