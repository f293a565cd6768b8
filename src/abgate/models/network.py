"""The direction model: raw bars → features → normalisation → LSTM → linear head → logit."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from abgate.models.config import ModelConfig
from abgate.models.features import LOOKBACK, MarketFeatures


class LSTMHead(nn.Module):
    """The seed's architecture: ``nn.LSTM(input, H, L)`` + ``nn.Linear(H, 1)`` on the last step."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, dropout: float):
        super().__init__()
        # PyTorch applies LSTM dropout only between stacked layers; a one-layer LSTM gets its
        # dropout on the output instead, so both variants are regularised as specified.
        self.lstm = nn.LSTM(
            input_size,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.lstm(x)
        logit: Tensor = self.head(self.drop(out[:, -1, :]))
        return logit


class DirectionModel(nn.Module):
    """Predicts the logit of ``close[t+1] > close[t]`` from a ``[B, window, 5]`` OHLCV tensor."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.window < LOOKBACK + config.seq_len:
            raise ValueError(
                f"window {config.window} is shorter than look-back {LOOKBACK} + seq_len "
                f"{config.seq_len}"
            )
        self.config = config
        self.features = MarketFeatures(config.seq_len, config.window)
        f = self.features.num_features
        # Fitted on the training split only (see fit_normaliser); saved with the weights.
        self.feat_mean: Tensor
        self.feat_std: Tensor
        self.register_buffer("feat_mean", torch.zeros(f))
        self.register_buffer("feat_std", torch.ones(f))
        self.core = LSTMHead(f, config.hidden_size, config.num_layers, config.dropout)

    def normalised_features(self, bars: Tensor) -> Tensor:
        z = (self.features(bars) - self.feat_mean) / self.feat_std
        # Clipping keeps a freak bar (a split the data did not adjust, a halt) from saturating
        # the LSTM gates.
        return torch.clamp(z, -5.0, 5.0)

    def forward(self, bars: Tensor) -> Tensor:
        logit: Tensor = self.core(self.normalised_features(bars))
        return logit

    @torch.no_grad()
    def fit_normaliser(self, train_windows: Tensor) -> None:
        feats = self.features(train_windows).reshape(-1, self.features.num_features)
        self.feat_mean.copy_(feats.mean(dim=0))
        self.feat_std.copy_(feats.std(dim=0).clamp(min=1e-6))


class ProbabilityModel(nn.Module):
    """Export wrapper: outputs ``probability_up`` ``[B, 1]`` instead of the logit."""

    def __init__(self, model: DirectionModel):
        super().__init__()
        self.model = model

    def forward(self, ohlcv: Tensor) -> Tensor:
        return torch.sigmoid(self.model(ohlcv))


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
