"""Assemble a running gateway from settings: config → backends → event log → metrics → app."""

from __future__ import annotations

import random
from pathlib import Path

from prometheus_client import CollectorRegistry

from abgate.errors import ConfigError
from abgate.events.sqlite import SQLiteEventLog
from abgate.gateway.app import GatewayApp
from abgate.gateway.backends import Backend, OnnxBackend, RemoteV2Backend
from abgate.gateway.config import GatewayConfig, default_config, load_config
from abgate.gateway.faults import FaultInjector
from abgate.gateway.metrics import GatewayMetrics
from abgate.gateway.service import Gateway
from abgate.gateway.settings import ServerSettings
from abgate.registry.store import Registry


def load_gateway_config(settings: ServerSettings) -> GatewayConfig:
    if settings.config:
        return load_config(settings.config)
    registry = Registry(settings.registry)
    return default_config(registry_names=registry.names())


def build_backends(config: GatewayConfig, registry_root: str | Path) -> dict[str, Backend]:
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
            backends[spec.name] = OnnxBackend(registry.get(spec.name, version))
    return backends


def build_app(
    settings: ServerSettings,
    *,
    config: GatewayConfig | None = None,
    rng: random.Random | None = None,
) -> GatewayApp:
    """A ready-to-serve ASGI app; the event log opens at startup and flushes at shutdown."""
    if config is None:
        config = load_gateway_config(settings)
    backends = build_backends(config, settings.registry)
    events_dir = Path(settings.events_db).expanduser().resolve().parent
    if not events_dir.is_dir():
        raise ConfigError(f"events_db: folder {events_dir} does not exist")
    events = SQLiteEventLog(settings.events_db, durability=settings.durability)
    registry = CollectorRegistry()
    metrics = GatewayMetrics(registry)
    rng = rng or random.Random()
    faults = FaultInjector(config.faults, random.Random(rng.random())) if config.faults else None
    gateway = Gateway(config, backends, events, metrics, rng=rng, faults=faults)

    async def startup() -> None:
        await events.start()
        await gateway.start()

    async def shutdown() -> None:
        await gateway.close()
        await events.close()

    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    return GatewayApp(
        gateway,
        registry,
        admin_token=token,
        max_body_bytes=settings.max_body_bytes,
        open_feedback_on_loopback=settings.allow_open_feedback_on_loopback,
        on_startup=startup,
        on_shutdown=shutdown,
    )
