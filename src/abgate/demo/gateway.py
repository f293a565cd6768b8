"""The embedded gateway of the demo: ``abgate serve`` as a child process on a free loopback port.

The child gets a fresh event log and the built-in experiment (baseline-predictor 70 /
enhanced-predictor 30) with one addition: ``sticky_header: x-user-id``, so each simulated
account is hashed to one variant, the way a product would assign its users. The config is
written next to the event log in the caller's working folder.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from abgate.errors import AbgateError
from abgate.gateway.config import config_from_dict, default_config
from abgate.loadgen.client import ACCOUNT_HEADER
from abgate.registry.store import Registry

START_TIMEOUT_S = 60.0


class GatewayStartError(AbgateError):
    """The embedded gateway did not come up."""


def free_port() -> int:
    """A TCP port free on loopback right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_config(registry: str | Path) -> dict[str, object]:
    """The built-in experiment with the demo's sticky header, as YAML-ready data."""
    config = default_config(registry_names=Registry(registry).names())
    doc = config.model_dump(mode="json", exclude_none=True)
    doc["experiments"][0]["sticky_header"] = ACCOUNT_HEADER
    config_from_dict(doc, "demo config")  # refuse to start with a config the gateway would reject
    return doc


@dataclass
class GatewayProcess:
    """A running ``abgate serve`` child; :meth:`stop` ends it (the caller owns it)."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM (uvicorn shuts down gracefully, flushing the event log), then SIGKILL."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return int(self.process.returncode)


def _log_tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def start_gateway(
    registry: str | Path,
    workdir: Path,
    *,
    durability: str = "strict",
    timeout_s: float = START_TIMEOUT_S,
) -> GatewayProcess:
    """Start the gateway on a free loopback port and wait until it is ready.

    Raises :class:`GatewayStartError` with the end of the gateway's log when it exits early or
    is not ready within ``timeout_s``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "experiment.yaml"
    config_path.write_text(yaml.safe_dump(demo_config(registry), sort_keys=False))
    log_path = workdir / "gateway.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "abgate.cli.main",
        "serve",
        "--registry",
        str(registry),
        "--config",
        str(config_path),
        "--events-db",
        str(workdir / "events.db"),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--durability",
        durability,
    ]
    # The admin token goes through the environment so it never shows in `ps`.
    env = {**os.environ, "ABGATE_ADMIN_TOKEN": secrets.token_urlsafe(24)}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    gateway = GatewayProcess(url, process, log_path)
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise GatewayStartError(
                f"the gateway exited with code {process.returncode} before it was ready:\n"
                + _log_tail(log_path)
            )
        try:
            if httpx.get(url + "/v2/health/ready", timeout=1.0).status_code == 200:
                return gateway
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            gateway.stop()
            raise GatewayStartError(
                f"the gateway was not ready within {timeout_s:g} s:\n" + _log_tail(log_path)
            )
        time.sleep(0.05)
