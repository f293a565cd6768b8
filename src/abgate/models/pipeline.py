"""Load data → split → train → export (with parity) → register, for one or both variants."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from abgate.market.bars import Bars
from abgate.market.indicators import drift_inputs
from abgate.market.windows import DataSplit, build_split
from abgate.models.config import VARIANTS, ModelConfig
from abgate.models.export import INPUT_NAME, OUTPUT_NAME, export_onnx
from abgate.models.features import FEATURE_NAMES
from abgate.models.network import LSTMHead, count_parameters
from abgate.models.train import EpochReport, TrainResult, predict_proba, train_model
from abgate.registry.store import ModelVersion, Registry
from abgate.stats.drift import reference_from_values

#: Smoke mode: one epoch on the most recent few hundred training windows (for tests).
SMOKE_EPOCHS = 1
SMOKE_TRAIN_SAMPLES = 256


@dataclass(frozen=True)
class TrainRequest:
    variants: Sequence[str]
    seed: int = 42
    epochs: int | None = None
    smoke: bool = False
    source: str = "sample"


def resolve_configs(request: TrainRequest) -> list[ModelConfig]:
    configs = []
    for name in request.variants:
        cfg = VARIANTS[name]
        if request.smoke:
            cfg = cfg.with_epochs(SMOKE_EPOCHS)
        elif request.epochs is not None:
            cfg = cfg.with_epochs(request.epochs)
        configs.append(cfg)
    return configs


def train_and_register(
    request: TrainRequest,
    bars: Sequence[Bars],
    registry: Registry,
    *,
    on_start: Callable[[ModelConfig], None] | None = None,
    on_epoch: Callable[[EpochReport], None] | None = None,
) -> list[ModelVersion]:
    split = build_split(bars)
    registered = []
    for cfg in resolve_configs(request):
        if on_start is not None:
            on_start(cfg)
        result = train_model(
            cfg,
            split,
            seed=request.seed,
            on_epoch=on_epoch,
            max_train_samples=SMOKE_TRAIN_SAMPLES if request.smoke else None,
        )
        exported = export_onnx(result.model, split.test.windows)
        card = card_fields(result, split, bars, request, exported.max_abs_diff, exported.checked)
        registered.append(
            registry.register(cfg.model_name, exported.onnx_bytes, card, heldout=split.test)
        )
    return registered


def card_fields(
    result: TrainResult,
    split: DataSplit,
    bars: Sequence[Bars],
    request: TrainRequest,
    parity_diff: float,
    parity_checked: int,
) -> dict[str, Any]:
    cfg = result.config
    at_350 = LSTMHead(350, cfg.hidden_size, cfg.num_layers, cfg.dropout)
    if result.val_metrics is None or result.test_metrics is None:
        raise ValueError("training result lacks metrics")
    return {
        "variant": cfg.variant,
        "architecture": {
            "type": "LSTM",
            "input_size": len(FEATURE_NAMES),
            "hidden_size": cfg.hidden_size,
            "num_layers": cfg.num_layers,
            "head": "Linear(hidden, 1) on the last timestep, sigmoid",
        },
        "hyperparameters": cfg.to_dict() | {"optimizer": "Adam", "loss": "BCEWithLogits"},
        "parameter_count": count_parameters(result.model),
        "seed_parameter_count_at_350": count_parameters(at_350),
        "features": list(FEATURE_NAMES),
        "window": cfg.window,
        "seq_len": cfg.seq_len,
        "inputs": [{"name": INPUT_NAME, "datatype": "FP32", "shape": [-1, cfg.window, 5]}],
        "outputs": [{"name": OUTPUT_NAME, "datatype": "FP32", "shape": [-1, 1]}],
        "data": {
            "source": request.source,
            "tickers": [b.ticker for b in bars],
            "date_ranges": {b.ticker: (b.first_date, b.last_date) for b in bars},
            "sha256": {b.ticker: b.sha256() for b in bars},
            "adjustment": "; ".join(sorted({b.adjustment for b in bars})),
            "splits": {sb.ticker: sb.ranges for sb in split.bounds},
            "split_counts": {sb.ticker: sb.counts for sb in split.bounds},
            "embargo_days": split.window,
        },
        "metrics": {
            "val": result.val_metrics.to_dict(),
            "test": result.test_metrics.to_dict(),
        },
        "best_epoch": result.best_epoch,
        "epochs_run": len(result.history),
        "seed": request.seed,
        "training_seconds": round(result.seconds, 3),
        "onnx_parity_max_abs_diff": parity_diff,
        "onnx_parity_checked": parity_checked,
        "libraries": library_versions(),
        "git_commit": git_commit(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "drift_reference": drift_reference(result, split),
    }


def drift_reference(result: TrainResult, split: DataSplit) -> dict[str, dict[str, list[float]]]:
    """Deciles of the training split: the model's predictions and the drift inputs."""
    values = {"prediction": predict_proba(result.model, split.train.windows)}
    values |= drift_inputs(split.train.windows)
    return {name: reference_from_values(v).to_dict() for name, v in values.items()}


def library_versions() -> dict[str, str]:
    out = {}
    for pkg in ("abgate", "torch", "onnx", "onnxruntime", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            continue
    out["python"] = ".".join(map(str, __import__("sys").version_info[:3]))
    out["numpy"] = np.__version__
    return out


def git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None
