"""``--endpoint`` mode against a gateway started separately (`abgate serve` subprocess)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
import yaml
from click.testing import CliRunner

from abgate.cli.demo import demo_command
from abgate.registry.store import Registry
from abgate.report.schema import load_schema, validate

pytestmark = pytest.mark.slow
EXPERIMENT = "financial-ab-test-experiment"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gateway_config() -> dict[str, Any]:
    """The demo experiment, plus one whose default model is unreachable (every call fails)."""
    return {
        "models": [
            {"name": "baseline-predictor"},
            {"name": "enhanced-predictor"},
            {"name": "broken-predictor", "url": f"http://127.0.0.1:{free_port()}"},
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
            },
            {
                "name": "broken-experiment",
                "default": "broken-predictor",
                "candidates": [
                    {"name": "broken-predictor", "weight": 50},
                    {"name": "baseline-predictor", "weight": 50},
                ],
            },
        ],
    }


@pytest.fixture(scope="module")
def gateway(smoke_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("endpoint-gateway")
    config = folder / "experiment.yaml"
    config.write_text(yaml.safe_dump(gateway_config()))
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "abgate.cli.main",
        "serve",
        "--registry",
        str(smoke_registry),
        "--config",
        str(config),
        "--events-db",
        str(folder / "events.db"),
        "--port",
        str(port),
        "--admin-token",
        "t",
    ]
    log = (folder / "gateway.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((folder / "gateway.log").read_text())
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


def run_demo(smoke_registry: Path, out: Path, *args: str) -> tuple[int, str, dict[str, Any]]:
    result = CliRunner().invoke(
        demo_command, [*args, "--registry", str(smoke_registry), "--out", str(out)]
    )
    reports = sorted(out.glob("*.json"))
    report = json.loads(reports[-1].read_text()) if reports else {}
    return result.exit_code, result.output, report


def test_endpoint_mode_agrees_with_a_gateway_that_already_had_traffic(
    gateway: str, smoke_registry: Path, tmp_path: Path
) -> None:
    # Another client's traffic before the run: the check must compare differences only.
    window = Registry(smoke_registry).get("baseline-predictor").load_heldout().windows[0]
    body = {
        "id": "earlier-1",
        "inputs": [
            {"name": "ohlcv", "shape": [1, 40, 5], "datatype": "FP32", "data": window.reshape(-1)}
        ],
    }
    headers = {"seldon-model": f"{EXPERIMENT}.experiment", "content-type": "application/json"}
    reply = httpx.post(
        f"{gateway}/v2/models/baseline-predictor/infer",
        headers=headers,
        content=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY),
    )
    assert reply.status_code == 200
    httpx.post(
        f"{gateway}/v2/experiments/{EXPERIMENT}/feedback",
        json={"feedback": [{"id": "earlier-1", "truth": 1}]},
    )

    code, output, report = run_demo(
        smoke_registry,
        tmp_path,
        "--endpoint",
        gateway,
        "--scenarios",
        "60",
        "--workers",
        "4",
        "--host-header",
        "ab.example.com",
    )
    assert code == 0, output
    assert "Starting the gateway" not in output
    assert "client and gateway tallies agree exactly" in output
    assert validate(report, load_schema()) == []
    assert report["run"]["mode"] == "endpoint" and report["run"]["target"] == gateway
    assert report["tally_check"]["agree"] is True
    assert report["traffic"]["requests"] == 60


def test_open_loop_rate_and_duration(gateway: str, smoke_registry: Path, tmp_path: Path) -> None:
    code, output, report = run_demo(
        smoke_registry,
        tmp_path,
        "--endpoint",
        gateway,
        "--scenarios",
        "20",
        "--rate",
        "80",
        "--duration",
        "0.5",
    )
    assert code == 0, output
    assert report["run"]["rate"] == 80 and report["run"]["workers"] is None
    assert report["traffic"]["requests"] == 40  # 20 scenarios cycled
    finished = np.array([p["finished_s"] for p in report["predictions"]])
    assert finished.max() >= 39 / 80  # the schedule spreads the requests over the duration
    assert report["tally_check"]["agree"] is True


def test_error_rate_above_the_limit_fails_after_reporting(
    gateway: str, smoke_registry: Path, tmp_path: Path
) -> None:
    code, output, report = run_demo(
        smoke_registry,
        tmp_path,
        "--endpoint",
        gateway,
        "--experiment",
        "broken-experiment",
        "--scenarios",
        "30",
    )
    assert code == 1
    assert "Error: error rate" in output and "exceeded --max-error-rate 1.00%" in output
    failures = report["traffic"]["failures"]
    assert 0 < failures < 30
    assert report["traffic"]["failure_reasons"] == {"HTTP 503": failures}
    assert report["tally_check"]["agree"] is True  # the gateway logged the same 503s
    assert validate(report, load_schema()) == []


def test_unreachable_endpoint_is_an_error(smoke_registry: Path, tmp_path: Path) -> None:
    code, output, _ = run_demo(
        smoke_registry, tmp_path, "--endpoint", f"http://127.0.0.1:{free_port()}"
    )
    assert code == 1 and "Error: cannot reach http://127.0.0.1:" in output


def test_endpoint_must_be_a_url(smoke_registry: Path, tmp_path: Path) -> None:
    code, output, _ = run_demo(smoke_registry, tmp_path, "--endpoint", "localhost:8080")
    assert code == 2 and "is not a URL" in output


def test_unknown_experiment_on_an_abgate_gateway(
    gateway: str, smoke_registry: Path, tmp_path: Path
) -> None:
    code, output, report = run_demo(
        smoke_registry, tmp_path, "--endpoint", gateway, "--experiment", "nope"
    )
    assert code == 1 and "has no experiment 'nope'" in output
    assert report == {}
