"""The embedded gateway of the demo: ``abgate serve`` as a child process on a free loopback port.

The child gets a fresh event log and the built-in experiment (baseline-predictor 70 /
enhanced-predictor 30) with one addition: ``sticky_header: x-user-id``, so each simulated
account is hashed to one variant, the way a product would assign its users. A fault run adds
the candidate's faults, a rollout policy and a shorter breaker cooldown (see
:mod:`abgate.demo.faults`) and a 0.5 s live-analysis interval. The config is written next to
the event log in the caller's working folder; the admin token is generated here and handed to
the child through its environment.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from abgate.demo.faults import ANALYSIS_INTERVAL_S, CandidateFault, fault_config
from abgate.errors import AbgateError
from abgate.gateway.config import CANDIDATE_MODEL, config_from_dict, default_config
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


def demo_config(registry: str | Path, fault: CandidateFault | None = None) -> dict[str, Any]:
    """The built-in experiment with the demo's sticky header (and ``fault``), as YAML data."""
    config = default_config(registry_names=Registry(registry).names())
    doc: dict[str, Any] = config.model_dump(mode="json", exclude_none=True)
    doc["experiments"][0]["sticky_header"] = ACCOUNT_HEADER
    if fault is not None:
        doc = fault_config(doc, fault, CANDIDATE_MODEL)
    config_from_dict(doc, "demo config")  # refuse to start with a config the gateway would reject
    return doc


@dataclass
class GatewayProcess:
    """A running ``abgate serve`` child; :meth:`stop` ends it (the caller owns it)."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    events_db: Path
    admin_token: str = field(repr=False, default="")
    config: dict[str, Any] = field(repr=False, default_factory=dict)
    """The experiment config the child runs (validated)."""

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
    fault: CandidateFault | None = None,
) -> GatewayProcess:
    """Start the gateway on a free loopback port and wait until it is ready.

    Raises :class:`GatewayStartError` with the end of the gateway's log when it exits early or
    is not ready within ``timeout_s``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "experiment.yaml"
    config = demo_config(registry, fault)
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    log_path = workdir / "gateway.log"
    events_db = workdir / "events.db"
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
        str(events_db),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--durability",
        durability,
    ]
    # The admin token goes through the environment so it never shows in `ps`.
    token = secrets.token_urlsafe(24)
    env = {**os.environ, "ABGATE_ADMIN_TOKEN": token}
    if fault is not None:  # the rollout controller and the live view look twice a second
        env["ABGATE_ANALYSIS_INTERVAL_S"] = str(ANALYSIS_INTERVAL_S)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    gateway = GatewayProcess(url, process, log_path, events_db, token, config)
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


async def put_faults(
    http: httpx.AsyncClient, base_url: str, model: str, token: str, settings: dict[str, Any]
) -> None:
    """Set ``model``'s faults through the admin API (``PUT /v2/models/{model}/faults``).

    Raises :class:`AbgateError` when the gateway refuses or cannot be reached.
    """
    url = f"{base_url.rstrip('/')}/v2/models/{model}/faults"
    try:
        response = await http.put(url, json=settings, headers={"authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise AbgateError(f"cannot inject faults into {model}: {type(exc).__name__}") from exc
    if response.status_code != 200:
        raise AbgateError(
            f"the gateway refused faults for {model}: HTTP {response.status_code} {response.text}"
        )
