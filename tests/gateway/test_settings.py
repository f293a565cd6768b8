from __future__ import annotations

import pytest

from abgate.errors import ConfigError
from abgate.gateway.settings import ServerSettings, load_server_settings


def test_server_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ServerSettings.model_fields:
        monkeypatch.delenv(f"ABGATE_{name.upper()}", raising=False)
    s = ServerSettings()
    assert (s.host, s.port, s.registry, s.events_db) == ("127.0.0.1", 8080, "models", "events.db")
    assert (s.durability, s.admin_token, s.config) == ("strict", None, None)
    assert s.max_body_bytes == 4 * 1024 * 1024
    assert s.allow_open_feedback_on_loopback is True


def test_server_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ABGATE_PORT", "9090")
    monkeypatch.setenv("ABGATE_DURABILITY", "relaxed")
    monkeypatch.setenv("ABGATE_ADMIN_TOKEN", "s3cret")
    monkeypatch.setenv("ABGATE_ALLOW_OPEN_FEEDBACK_ON_LOOPBACK", "false")
    s = load_server_settings(host="0.0.0.0")
    assert (s.host, s.port, s.durability) == ("0.0.0.0", 9090, "relaxed")
    assert s.admin_token is not None and s.admin_token.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(s)
    assert s.allow_open_feedback_on_loopback is False


def test_bad_server_settings_become_config_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ABGATE_DURABILITY", "sometimes")
    with pytest.raises(
        ConfigError, match=r"^settings: durability: Input should be 'fsync', 'strict' or 'relaxed'"
    ):
        load_server_settings()
    monkeypatch.delenv("ABGATE_DURABILITY")
    with pytest.raises(ConfigError, match=r"^settings: port: must be ≤ 65535$"):
        load_server_settings(port=70000)
