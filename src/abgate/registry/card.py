"""The model card: everything needed to trust, reproduce and serve one registered model."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TensorSpec(BaseModel):
    """One named tensor of the model's signature (V2 metadata style)."""

    model_config = ConfigDict(frozen=True)
    name: str
    datatype: str
    shape: list[int] = Field(description="-1 marks the dynamic batch axis")


class DataProvenance(BaseModel):
    """Which market data trained the model."""

    model_config = ConfigDict(frozen=True)
    source: str = Field(description="sample, csv or yahoo")
    tickers: list[str]
    date_ranges: dict[str, tuple[str, str]] = Field(description="first and last bar per ticker")
    sha256: dict[str, str] = Field(description="digest of the exact bars used, per ticker")
    adjustment: str
    splits: dict[str, dict[str, tuple[str, str]]] = Field(
        description="ticker → split → (first, last) window end date"
    )
    split_counts: dict[str, dict[str, int]]
    embargo_days: int


class ModelCard(BaseModel):
    """Saved as ``card.json`` beside ``model.onnx``."""

    model_config = ConfigDict(frozen=True, protected_namespaces=())
    name: str
    version: int
    variant: str
    architecture: dict[str, Any]
    hyperparameters: dict[str, Any]
    parameter_count: int
    seed_parameter_count_at_350: int = Field(
        description="the same LSTM + head at the seed's 350-feature input, for comparison"
    )
    features: list[str]
    window: int
    seq_len: int
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    data: DataProvenance
    metrics: dict[str, dict[str, Any]] = Field(description="val and test metrics")
    best_epoch: int
    epochs_run: int
    seed: int
    training_seconds: float
    onnx_parity_max_abs_diff: float
    onnx_parity_checked: int
    libraries: dict[str, str]
    git_commit: str | None
    created: str
    onnx_sha256: str
    drift_reference: dict[str, dict[str, list[float]]] | None = Field(
        default=None,
        description="training-split deciles (edges, fractions) of the prediction and a few "
        "inputs, the reference for live drift (PSI)",
    )
