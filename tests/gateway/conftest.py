"""Gateway fixtures: an app over the smoke-trained registry, driven in-process by httpx."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from abgate.gateway.app import GatewayApp
from abgate.gateway.config import GatewayConfig, config_from_dict
from abgate.gateway.server import build_app
from abgate.gateway.settings import ServerSettings
from abgate.registry.store import Registry

EXPERIMENT = "financial-ab-test-experiment"
TOKEN = "test-admin-token"


def make_config(**overrides: Any) -> GatewayConfig:
    doc: dict[str, Any] = {
        "models": [
            {"name": "baseline-predictor", "timeout_ms": 500},
            {"name": "enhanced-predictor", "timeout_ms": 200},
        ],
        "experiments": [
            {
                "name": EXPERIMENT,
                "default": "baseline-predictor",
                "candidates": [
                    {"name": "baseline-predictor", "weight": 70},
                    {"name": "enhanced-predictor", "weight": 30},
                ],
                "sticky_header": "x-user-id",
            }
        ],
    }
    for key, value in overrides.items():
        if key in ("mirror", "rollout", "allocation", "sticky_header"):
            doc["experiments"][0][key] = value
        else:
            doc[key] = value
    return config_from_dict(doc, "test")


@pytest.fixture(scope="session")
def windows(smoke_registry: Path) -> np.ndarray:
    return Registry(smoke_registry).get("baseline-predictor").load_heldout().windows


def infer_body(window: np.ndarray) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": "ohlcv",
                "shape": [1, *window.shape],
                "datatype": "FP32",
                "data": window.reshape(-1).tolist(),
            }
        ]
    }


AppFactory = Callable[..., "AsyncIterator[tuple[GatewayApp, httpx.AsyncClient]]"]


@pytest.fixture
def make_app(smoke_registry: Path, tmp_path: Path) -> Callable[..., Any]:
    """``async with make_app(config=..., seed=...) as (app, client)``; events in tmp_path."""
    import contextlib

    @contextlib.asynccontextmanager
    async def factory(
        config: GatewayConfig | None = None,
        seed: int = 7,
        durability: str = "relaxed",
        db: str = "events.db",
        **settings: Any,
    ) -> AsyncIterator[tuple[GatewayApp, httpx.AsyncClient]]:
        s = ServerSettings(
            registry=str(smoke_registry),
            events_db=str(tmp_path / db),
            durability=durability,  # type: ignore[arg-type]
            admin_token=TOKEN,  # type: ignore[arg-type]
            **settings,
        )
        app = build_app(s, config=config or make_config(), rng=random.Random(seed))
        await app.startup()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
        try:
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                yield app, client
        finally:
            await app.shutdown()

    return factory
