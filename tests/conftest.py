"""Shared fixtures: the real market data folder and a smoke-trained registry."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` with the real 2013-2023 AAPL/MSFT bars; skips when absent."""
    if not (SHARED_DATA / "AAPL.csv").exists() or not (SHARED_DATA / "MSFT.csv").exists():
        pytest.skip(f"real market data not found at {SHARED_DATA} (only in the dev workspace)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def smoke_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with both variants trained in smoke mode on the shipped sample (once)."""
    pytest.importorskip("torch", reason="training needs PyTorch (pip install 'abgate[train]')")
    from abgate.market.sources import load_market
    from abgate.models.pipeline import TrainRequest, train_and_register
    from abgate.registry.store import Registry

    root = tmp_path_factory.mktemp("registry")
    request = TrainRequest(variants=["baseline", "enhanced"], seed=1, smoke=True)
    train_and_register(request, load_market("sample"), Registry(root))
    return root
