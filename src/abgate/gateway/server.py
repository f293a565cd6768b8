"""Assemble a running gateway from settings: config → backends → event log → metrics → app."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, multiprocess

from abgate.events.factory import open_event_store
from abgate.gateway.app import GatewayApp
from abgate.gateway.backends import Backend, OnnxBackend, RemoteV2Backend
from abgate.gateway.bandit import BanditAllocator
from abgate.gateway.cluster import Forwarder, RoutingFollower
from abgate.gateway.config import GatewayConfig, default_config, load_config
from abgate.gateway.controller import RolloutController
from abgate.gateway.faults import FaultInjector
from abgate.gateway.live import DriftMonitor, LiveAnalyzer
from abgate.gateway.metrics import GatewayMetrics
from abgate.gateway.service import Gateway
from abgate.gateway.settings import ServerSettings
from abgate.registry.store import Registry
from abgate.stats.drift import DriftReference


def load_gateway_config(settings: ServerSettings) -> GatewayConfig:
    if settings.config:
        return load_config(settings.config)
    registry = Registry(settings.registry)
    return default_config(registry_names=registry.names())


def drift_monitors(config: GatewayConfig, registry_root: str | Path) -> dict[str, DriftMonitor]:
    """One monitor per registry model whose card has a training reference."""
    registry = Registry(registry_root)
    monitors = {}
    for spec in config.models:
        if spec.url is None:
            card = registry.get(spec.name, spec.version or "latest").card
            if card.drift_reference:
                refs = {k: DriftReference.from_dict(v) for k, v in card.drift_reference.items()}
                monitors[spec.name] = DriftMonitor(refs)
    return monitors


def build_backends(
    config: GatewayConfig,
    registry_root: str | Path,
    max_batch_size: int = 64,
    batch_wait_turns: int = 2,
) -> dict[str, Backend]:
    registry = Registry(registry_root)
    backends: dict[str, Backend] = {}
    for spec in config.models:
        if spec.url is not None:
            backends[spec.name] = RemoteV2Backend(
                spec.name,
                spec.url,
                spec.remote_name or spec.name,
                spec.remote_version,
                spec.timeout_ms / 1000.0,
            )
        else:
            version = spec.version if spec.version is not None else "latest"
            backends[spec.name] = OnnxBackend(
                registry.get(spec.name, version), None, max_batch_size, batch_wait_turns
            )
    return backends


def build_app(
    settings: ServerSettings,
    *,
    config: GatewayConfig | None = None,
    rng: random.Random | None = None,
    primary_url: str | None = None,
) -> GatewayApp:
    """A ready-to-serve ASGI app; the event log opens at startup and flushes at shutdown.

    With ``primary_url`` the app is a follower worker (see :mod:`abgate.gateway.cluster`): it
    serves inference and feedback, relays the control plane to the primary and copies its
    routing; the live analysis, rollout and bandit run in the primary only.
    """
    if config is None:
        config = load_gateway_config(settings)
    backends = build_backends(
        config, settings.registry, settings.max_batch_size, settings.batch_wait_turns
    )
    events = open_event_store(settings.events_db, durability=settings.durability)
    registry = CollectorRegistry()
    metrics = GatewayMetrics(registry)
    exposition = registry
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # several workers: /metrics sums them all
        exposition = CollectorRegistry()
        multiprocess.MultiProcessCollector(exposition)  # type: ignore[no-untyped-call]
    rng = rng or random.Random()
    # Always present (empty = no faults, one dict lookup per call): faults can be injected at
    # run time through the admin API for drills and demos.
    faults = FaultInjector(config.faults, random.Random(rng.random()))
    drift = drift_monitors(config, settings.registry)
    gateway = Gateway(config, backends, events, metrics, rng=rng, faults=faults, drift=drift)
    controller_ref: list[RolloutController] = []

    async def status_with_rollout(name: str) -> dict[str, Any]:
        doc = await gateway.status(name)
        doc["rollout"] = controller_ref[0].status(name) if controller_ref else None
        return doc

    live = LiveAnalyzer(
        settings.events_db,
        status=status_with_rollout,
        weights=lambda name: gateway.experiment(name).weights,
        default=lambda name: gateway.experiment(name).fallback,
        experiments=lambda: list(gateway.experiments),
        is_bandit=lambda name: gateway.experiment(name).spec.allocation.policy == "thompson",
        metrics=metrics,
        interval_s=settings.analysis_interval_s,
        drift=drift,
    )

    controller = RolloutController(gateway, live)
    controller_ref.append(controller)
    bandit = BanditAllocator(gateway, np.random.default_rng(rng.getrandbits(64)))

    follower = RoutingFollower(gateway, primary_url) if primary_url else None
    forwarder = Forwarder(primary_url) if primary_url else None

    async def startup() -> None:
        await events.start()
        await gateway.start(record_config=follower is None)
        if follower is not None:
            await follower.start()
            return
        await live.start()
        await controller.start()
        await bandit.start()

    async def shutdown() -> None:
        if follower is not None and forwarder is not None:
            await follower.close()
            await forwarder.close()
        else:
            await bandit.close()
            await controller.close()
            await live.close()
        await gateway.close()
        await events.close()

    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    app = GatewayApp(
        gateway,
        exposition,
        admin_token=token,
        max_body_bytes=settings.max_body_bytes,
        body_timeout_s=settings.body_timeout_s,
        open_feedback_on_loopback=settings.allow_open_feedback_on_loopback,
        on_startup=startup,
        on_shutdown=shutdown,
        live=live,
        controller=controller,
        forwarder=forwarder,
    )
    app.bandit = bandit
    return app
