"""``abgate serve``: run the gateway (uvicorn; one process, or N with ``--workers``; loopback by
default)."""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

import click

from abgate.errors import ConfigError
from abgate.gateway.settings import load_server_settings


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Experiment YAML [default: built-in 70/30 experiment].",
)
@click.option("--host", default=None, help="Interface to bind [default: 127.0.0.1].")
@click.option("--port", type=click.IntRange(0, 65535), default=None, help="Port [default: 8080].")
@click.option("--registry", default=None, help="Model registry folder [default: models].")
@click.option("--events-db", default=None, help="SQLite event log [default: events.db].")
@click.option(
    "--durability",
    type=click.Choice(["fsync", "strict", "relaxed"]),
    default=None,
    help="strict (default): every event committed before its reply, safe if the process "
    "dies; fsync: also fsynced, safe across a power cut; relaxed: batched after the reply.",
)
@click.option(
    "--admin-token",
    default=None,
    envvar="ABGATE_ADMIN_TOKEN",
    help="Bearer token for admin calls [default: random, printed at start].",
)
@click.option(
    "--expose", is_flag=True, help="Allow binding a non-loopback address (requires --admin-token)."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 32),
    default=None,
    help="Gateway processes sharing the port [default: 1]. One is the primary (analysis, "
    "rollout, admin API); the others serve inference and relay admin calls to it.",
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
def serve_command(
    config_path: Path | None,
    host: str | None,
    port: int | None,
    registry: str | None,
    events_db: str | None,
    durability: str | None,
    admin_token: str | None,
    expose: bool,
    workers: int | None,
    log_level: str,
) -> None:
    """Serve the A/B experiment over the Open Inference Protocol (V2 REST).

    \b
    Without --config, serves `financial-ab-test-experiment`: calls to
    `baseline-predictor` are split 70/30 with `enhanced-predictor`.
    Settings also come from ABGATE_* environment variables.

    \b
    Example:
      abgate serve --port 9000
      curl localhost:9000/v2/models/baseline-predictor
    """
    import uvicorn  # imported here to keep `abgate --help` fast

    from abgate.gateway.server import build_app, load_gateway_config
    from abgate.gateway.wire import OneWriteHttpToolsProtocol

    overrides = {
        k: v
        for k, v in {
            "host": host,
            "port": port,
            "registry": registry,
            "events_db": events_db,
            "durability": durability,
            "workers": workers,
            "config": str(config_path) if config_path else None,
        }.items()
        if v is not None
    }
    generated = admin_token is None
    overrides["admin_token"] = admin_token or secrets.token_urlsafe(24)
    settings = load_server_settings(**overrides)
    if not _is_loopback(settings.host):
        if not expose:
            raise ConfigError(
                f"refusing to bind {settings.host}: not a loopback address; pass --expose "
                "(with --admin-token) to serve other machines"
            )
        if generated:
            raise ConfigError("--expose needs an explicit --admin-token (or ABGATE_ADMIN_TOKEN)")
    if generated:
        click.echo(f"admin token (this run only): {overrides['admin_token']}", err=True)
    where = (
        f"abgate gateway on http://{settings.host}:{settings.port}  "
        f"(events: {settings.events_db}, durability: {settings.durability}"
    )
    if settings.workers > 1:
        from abgate.gateway.workers import supervise

        if settings.port == 0:
            raise ConfigError("--workers needs a fixed --port (0 would give each worker its own)")
        load_gateway_config(settings)  # a bad experiment file fails here, once, before any worker
        click.echo(f"{where}, {settings.workers} workers)", err=True)
        raise SystemExit(supervise(settings, log_level))
    app = build_app(settings)
    click.echo(f"{where})", err=True)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        loop="uvloop",
        http=OneWriteHttpToolsProtocol,  # httptools, each response in one write
        lifespan="on",
        # The peer address stays the peer's (see GatewayApp.feedback); the middleware that would
        # rewrite it from X-Forwarded-For costs ~2% of a request.
        proxy_headers=False,
        timeout_graceful_shutdown=10,
    )
