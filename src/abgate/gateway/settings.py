"""Server process settings, from ``ABGATE_<FIELD>`` environment variables or flags."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from abgate.errors import ConfigError
from abgate.gateway.config import _problems


class ServerSettings(BaseSettings):
    """Process settings, from ``ABGATE_<FIELD>`` environment variables or keyword arguments."""

    model_config = SettingsConfigDict(
        env_prefix="ABGATE_", extra="forbid", frozen=True, use_attribute_docstrings=True
    )

    host: str = "127.0.0.1"
    """Interface to bind; loopback unless exposure is intended."""
    port: int = Field(default=8080, ge=0, le=65535)
    """TCP port; 0 picks a free one."""
    registry: str = "models"
    """Directory of the model registry."""
    config: str | None = None
    """Experiment YAML file; ``None`` uses the built-in default experiment."""
    events_db: str = "events.db"
    """Event log location (SQLite file)."""
    durability: Literal["fsync", "strict", "relaxed"] = "strict"
    """``strict``: committed before the reply (survives the process dying); ``fsync``: also
    fsynced (survives a power cut); ``relaxed``: committed in batches after the reply."""
    admin_token: SecretStr | None = None
    """Bearer token for admin endpoints; ``None`` disables them."""
    max_body_bytes: int = Field(default=4 * 1024 * 1024, gt=0)
    """Largest accepted request body, in bytes."""
    body_timeout_s: float = Field(default=30.0, gt=0)
    """A request body must arrive within this many seconds (slow-loris guard), else 408."""
    max_batch_size: int = Field(default=64, ge=1)
    """Rows per ONNX Runtime call when concurrent requests are batched (1 disables batching)."""
    workers: int = Field(default=1, ge=1, le=32)
    """Gateway processes sharing the port: one primary (control plane) and followers."""
    batch_wait_turns: int = Field(default=2, ge=1, le=16)
    """Event-loop turns a batch waits for more concurrent requests before it runs (2: the
    requests read in the next I/O poll join too; 1: only those already parsed)."""
    analysis_interval_s: float = Field(default=2.0, gt=0)
    """Seconds between live analyses (verdict, SRM, drift gauges, experiment summary)."""
    allow_open_feedback_on_loopback: bool = True
    """Accept feedback without a token from loopback clients."""


def load_server_settings(**overrides: Any) -> ServerSettings:
    """Settings from the environment and ``overrides``; problems become ``ConfigError``."""
    try:
        return ServerSettings(**overrides)
    except ValidationError as exc:
        raise ConfigError("\n".join(f"settings: {p}" for p in _problems(exc))) from exc
