"""Helpers for the deployment-asset tests: what the gateway exports, PromQL metric names, the
Grafana dashboard's expressions, system binaries, and a real gateway on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from abgate.gateway.metrics import GatewayMetrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "abgate-rules.yaml"
RULE_TESTS = DEPLOY / "prometheus" / "abgate-rules.test.yaml"
EXAMPLE_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
DASHBOARD = DEPLOY / "grafana" / "abgate-ab-testing.json"

# What Grafana puts in place of its built-in variables when it sends a query; any window works
# for "does it evaluate", and one minute covers a test's whole load.
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m"}

_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}


def exported_metric_names() -> set[str]:
    """Series names the gateway's registry exposes (``_created`` series left out on purpose)."""
    registry = CollectorRegistry()
    GatewayMetrics(registry)
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects; raises if it does not parse."""
    promql = pytest.importorskip("promql_parser", reason="pip install promql-parser")
    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql.VectorSelector):
            if node.name:
                names.add(node.name)
            else:
                names.update(m.value for m in node.matchers.matchers if m.name == "__name__")

    promql.walk(promql.parse(expr), visit)
    return names


def load_dashboard() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return doc


def dashboard_panels(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    out = []
    for panel in doc["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def dashboard_queries(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    """``(panel title, refId, expr)`` of every query of every panel."""
    return [
        (p["title"], t["refId"], t["expr"])
        for p in dashboard_panels(doc)
        for t in p.get("targets", [])
    ]


def grafana_substitute(expr: str, experiment: str) -> str:
    """The query Grafana would send: ``$experiment`` and the built-in variables filled in."""
    values = GRAFANA_BUILTINS | {"experiment": experiment}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name.isdigit():  # "$1" of label_replace: Grafana leaves unknown names alone
            return match.group(0)
        if name not in values:
            raise KeyError(f"unknown dashboard variable ${name} in {expr!r}")
        return values[name]

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", fill, expr)


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(
            f"{name} not installed (Debian: apt-get install prometheus); .ci/run installs it"
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(
    args: list[str], ready_url: str, what: str, env: dict[str, str] | None = None
) -> Iterator[None]:
    """A subprocess that serves ``ready_url``; stopped and reaped on exit. Its output goes to
    a file (a pipe nobody reads could fill up and stall it) shown if it fails to start."""
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(ready_url, timeout=1).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"{what} did not start: {log.read()}")
                time.sleep(0.1)
            yield
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)


@contextlib.contextmanager
def gateway(registry: Path, db: Path, analysis_interval_s: float = 0.5) -> Iterator[str]:
    """``abgate serve`` on a free loopback port; yields its base URL."""
    port = free_port()
    args = [
        sys.executable, "-m", "abgate.cli.main", "serve",
        "--registry", str(registry), "--events-db", str(db), "--port", str(port),
        "--durability", "relaxed", "--admin-token", "t",
    ]  # fmt: skip
    env = os.environ | {"ABGATE_ANALYSIS_INTERVAL_S": str(analysis_interval_s)}
    url = f"http://127.0.0.1:{port}"
    with running(args, url + "/v2/health/ready", "gateway", env):
        yield url
