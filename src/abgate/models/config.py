"""Hyperparameters of the two model variants (frozen; saved with the weights and in the card)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from abgate.market.windows import WINDOW

#: Registry names of the variants.
MODEL_NAMES = {"baseline": "baseline-predictor", "enhanced": "enhanced-predictor"}


@dataclass(frozen=True)
class ModelConfig:
    """One LSTM variant. The defaults of each variant are the seed's specification."""

    variant: str
    hidden_size: int
    num_layers: int
    epochs: int
    learning_rate: float
    dropout: float
    batch_size: int = 64
    window: int = WINDOW  # raw daily bars the model receives
    seq_len: int = 10  # timesteps the LSTM sees (the seed's sequence length)
    grad_clip: float = 1.0
    weight_decay: float = 0.0

    @property
    def model_name(self) -> str:
        return MODEL_NAMES[self.variant]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(**data)

    def with_epochs(self, epochs: int) -> ModelConfig:
        return replace(self, epochs=epochs)


BASELINE = ModelConfig(
    variant="baseline", hidden_size=24, num_layers=1, epochs=12, learning_rate=0.003, dropout=0.05
)
ENHANCED = ModelConfig(
    variant="enhanced", hidden_size=64, num_layers=2, epochs=25, learning_rate=0.0005, dropout=0.2
)
VARIANTS: dict[str, ModelConfig] = {"baseline": BASELINE, "enhanced": ENHANCED}
