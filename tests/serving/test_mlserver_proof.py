"""Proof that an exported model serves on a real MLServer behind the gateway.

MLServer (its own venv, ``.venv-mlserver``, pinned in ``benchmarks/_servers.py``) serves the
``abgate export --format mlserver`` folder of the candidate on loopback; the gateway runs with the
baseline in-process and the candidate as a remote V2 backend pointing at that MLServer. Every
answer must equal ONNX Runtime in this process (≤ 1e-5) and name the variant that served it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import onnxruntime as ort
import pytest
import yaml

from abgate.registry.store import Registry
from abgate.serving.export import export_model

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENT = "financial-ab-test-experiment"


def _servers_module() -> object:
    spec = importlib.util.spec_from_file_location("bench_servers", ROOT / "benchmarks/_servers.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def mlserver_bin() -> Path:
    """The ``mlserver`` executable of the separate venv; created once if the network allows."""
    servers = _servers_module()
    binary = Path(servers.MLSERVER_VENV) / "bin" / "mlserver"  # type: ignore[attr-defined]
    if binary.exists():
        return binary
    try:
        return Path(servers.ensure_mlserver())  # type: ignore[attr-defined]
    except (subprocess.CalledProcessError, OSError) as exc:
        pytest.skip(f"cannot create the MLServer venv (offline?): {exc}")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _process(args: list[str], ready: str, log: Path, what: str) -> Iterator[None]:
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(ready, timeout=1).status_code == 200:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{what} did not become ready: {log.read_text()[-3000:]}")
                time.sleep(0.2)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def test_exported_model_on_real_mlserver_behind_the_gateway(
    mlserver_bin: Path, smoke_registry: Path, tmp_path: Path
) -> None:
    repo = tmp_path / "mlserver-repo"
    export_model(smoke_registry, "enhanced-predictor", "mlserver", repo)
    ml_port, gw_port = _free_port(), _free_port()
    (repo / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",  # MLServer binds 0.0.0.0 unless told
                "http_port": ml_port,
                "grpc_port": _free_port(),
                "metrics_port": _free_port(),
                # In-process inference: MLServer 1.7.1's worker processes fail to start with the
                # uvloop its venv resolves ("no current event loop"); the wire is the same.
                "parallel_workers": 0,
                "debug": False,
            }
        )
    )
    config = {
        "models": [
            {"name": "baseline-predictor"},
            {
                "name": "enhanced-predictor",
                "url": f"http://127.0.0.1:{ml_port}",
                "timeout_ms": 5000,
            },
        ],
        "experiments": [
            {
                "name": EXPERIMENT,
                "default": "baseline-predictor",
                "candidates": [
                    {"name": "baseline-predictor", "weight": 50},
                    {"name": "enhanced-predictor", "weight": 50},
                ],
            }
        ],
    }
    config_path = tmp_path / "experiment.yaml"
    config_path.write_text(yaml.safe_dump(config))

    registry = Registry(smoke_registry)
    windows = registry.get("baseline-predictor").load_heldout().windows[:40]
    sessions = {
        name: ort.InferenceSession(str(registry.get(name).onnx_path))
        for name in ("baseline-predictor", "enhanced-predictor")
    }
    expected = {
        name: s.run(["probability_up"], {"ohlcv": windows})[0].reshape(-1)
        for name, s in sessions.items()
    }

    ml_ready = f"http://127.0.0.1:{ml_port}/v2/models/enhanced-predictor/ready"
    gw = f"http://127.0.0.1:{gw_port}"
    gateway_args = [
        sys.executable, "-m", "abgate.cli.main", "serve", "--config", str(config_path),
        "--registry", str(smoke_registry), "--events-db", str(tmp_path / "events.db"),
        "--port", str(gw_port), "--admin-token", "t", "--durability", "relaxed",
    ]  # fmt: skip
    with (
        _process(
            [str(mlserver_bin), "start", str(repo)], ml_ready, tmp_path / "ml.log", "MLServer"
        ),
        _process(gateway_args, gw + "/v2/health/ready", tmp_path / "gw.log", "gateway"),
        httpx.Client(timeout=10) as client,
    ):
        # MLServer itself answers as the exported model.
        direct = client.post(
            f"http://127.0.0.1:{ml_port}/v2/models/enhanced-predictor/infer",
            json=_body(windows[:2]),
        ).json()
        assert direct["model_name"] == "enhanced-predictor"
        assert direct["model_version"] == "1"

        served: dict[str, int] = {}
        for i, window in enumerate(windows):
            resp = client.post(
                f"{gw}/v2/models/baseline-predictor/infer",
                json=_body(window[None]),
                headers={"seldon-model": f"{EXPERIMENT}.experiment"},
            )
            assert resp.status_code == 200, resp.text
            route = resp.headers["x-seldon-route"]
            model = route.strip(":").rsplit("_", 1)[0]
            assert route == f":{model}_1:" and resp.json()["model_name"] == f"{model}_1"
            (out,) = [o for o in resp.json()["outputs"] if o["name"] == "probability_up"]
            np.testing.assert_allclose(out["data"][0], expected[model][i], atol=1e-5, rtol=0)
            served[model] = served.get(model, 0) + 1
        assert served.get("enhanced-predictor", 0) > 0 and served.get("baseline-predictor", 0) > 0

        # A direct call to the remote model goes straight to MLServer, batch and all.
        resp = client.post(f"{gw}/v2/models/enhanced-predictor/infer", json=_body(windows))
        assert resp.status_code == 200, resp.text
        assert resp.headers["x-seldon-route"] == ":enhanced-predictor_1:"
        (out,) = [o for o in resp.json()["outputs"] if o["name"] == "probability_up"]
        np.testing.assert_allclose(
            np.asarray(out["data"]).reshape(-1), expected["enhanced-predictor"], atol=1e-5, rtol=0
        )


def _body(batch: np.ndarray) -> dict[str, object]:
    return {
        "inputs": [
            {
                "name": "ohlcv",
                "shape": list(batch.shape),
                "datatype": "FP32",
                "data": batch.reshape(-1).tolist(),
            }
        ]
    }
