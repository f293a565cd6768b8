"""Train one variant: Adam on binary cross-entropy, best epoch chosen by validation log loss."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from abgate.market.windows import DataSplit, Samples
from abgate.models.config import ModelConfig
from abgate.models.metrics import PredictionMetrics, evaluate
from abgate.models.network import DirectionModel


@dataclass(frozen=True)
class EpochReport:
    epoch: int
    epochs: int
    train_loss: float
    val_loss: float
    val_accuracy: float


@dataclass
class TrainResult:
    model: DirectionModel
    config: ModelConfig
    best_epoch: int
    history: list[EpochReport] = field(default_factory=list)
    val_metrics: PredictionMetrics | None = None
    test_metrics: PredictionMetrics | None = None
    seconds: float = 0.0


def _tensor(samples: Samples) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(samples.windows), torch.from_numpy(samples.labels.astype(np.float32))


@torch.no_grad()
def predict_proba(model: nn.Module, windows: np.ndarray, batch: int = 1024) -> np.ndarray:
    """Probabilities for ``[n, W, 5]`` windows in eval mode."""
    was_training = model.training
    model.eval()
    out = []
    for i in range(0, len(windows), batch):
        x = torch.from_numpy(np.ascontiguousarray(windows[i : i + batch], dtype=np.float32))
        out.append(torch.sigmoid(model(x)).reshape(-1).numpy())
    model.train(was_training)
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def train_model(
    config: ModelConfig,
    split: DataSplit,
    *,
    seed: int,
    on_epoch: Callable[[EpochReport], None] | None = None,
    max_train_samples: int | None = None,
) -> TrainResult:
    """Train ``config`` on ``split.train``; keep the weights of the best validation epoch.

    Runs are repeatable: the seed fixes initial weights, dropout and batch order, and PyTorch's
    deterministic algorithms are requested.
    """
    started = time.perf_counter()
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    gen = torch.Generator().manual_seed(seed)
    train = split.train
    if max_train_samples is not None and len(train) > max_train_samples:
        train = train.take(np.arange(len(train) - max_train_samples, len(train)))
    x_train, y_train = _tensor(train)
    x_val, y_val = _tensor(split.val)

    model = DirectionModel(config)
    model.fit_normaliser(x_train)
    # Features have no parameters: compute them once, then train only the LSTM and head.
    with torch.no_grad():
        f_train = model.normalised_features(x_train)
        f_val = model.normalised_features(x_val)
    core = model.core
    opt = torch.optim.Adam(
        core.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    loss_fn = nn.BCEWithLogitsLoss()
    best_loss, best_epoch, best_state = float("inf"), 0, copy.deepcopy(model.state_dict())
    history: list[EpochReport] = []
    for epoch in range(1, config.epochs + 1):
        model.train()
        perm = torch.randperm(len(f_train), generator=gen)
        total, seen = 0.0, 0
        for i in range(0, len(perm), config.batch_size):
            idx = perm[i : i + config.batch_size]
            opt.zero_grad()
            loss = loss_fn(core(f_train[idx]).squeeze(-1), y_train[idx])
            loss.backward()
            # Daily returns have fat tails: one crash day can produce a gradient that undoes an
            # epoch of learning, so the norm is clipped.
            nn.utils.clip_grad_norm_(core.parameters(), config.grad_clip)
            opt.step()
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        model.eval()
        with torch.no_grad():
            val_logits = core(f_val).squeeze(-1)
            val_loss = float(loss_fn(val_logits, y_val))
            val_acc = float(((val_logits > 0).float() == y_val).float().mean())
        report = EpochReport(epoch, config.epochs, total / max(seen, 1), val_loss, val_acc)
        history.append(report)
        if on_epoch is not None:
            on_epoch(report)
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    model.eval()
    val_metrics = evaluate(
        predict_proba(model, split.val.windows), split.val.labels, split.val.next_returns
    )
    test_metrics = evaluate(
        predict_proba(model, split.test.windows), split.test.labels, split.test.next_returns
    )
    return TrainResult(
        model=model,
        config=config,
        best_epoch=best_epoch,
        history=history,
        val_metrics=val_metrics,
        test_metrics=test_metrics,
        seconds=time.perf_counter() - started,
    )
