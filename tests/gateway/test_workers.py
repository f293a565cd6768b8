"""`abgate serve --workers 2` for real: one port, one log, metrics summed, one control plane."""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from abgate.events import verify_chain

from ..helpers import free_port, serve, serve_once
from .conftest import EXPERIMENT, infer_body

pytestmark = pytest.mark.slow

INFER = "/v2/models/baseline-predictor/infer"
FRESH = {"connection": "close"}  # a new connection per call: the kernel picks a worker each time


def _workers(supervisor: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(supervisor)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


def _all_ready(proc: subprocess.Popen[str], tmp_path: Path) -> None:
    """Wait for the supervisor's line saying every worker accepts connections."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any("workers ready" in p.read_text() for p in tmp_path.glob("gateway-*.log")):
            return
        assert proc.poll() is None, "the gateway exited while starting"
        time.sleep(0.1)
    raise AssertionError("the workers did not all become ready")


def _requests_total(text: str) -> float:
    return sum(float(v) for v in re.findall(r"^abgate_requests_total\{.*\} (\S+)$", text, re.M))


def test_workers_share_port_log_and_metrics(
    smoke_registry: Path, tmp_path: Path, windows: np.ndarray
) -> None:
    db = tmp_path / "w.db"
    with serve(smoke_registry, db, "--workers", "2") as (proc, url):
        _all_ready(proc, tmp_path)
        assert len(_workers(proc.pid)) == 2
        with httpx.Client(base_url=url, timeout=10, headers=FRESH) as client:
            for i in range(60):
                r = client.post(INFER, json=infer_body(windows[i]))
                assert r.status_code == 200, r.text
            pids = set()
            for _ in range(6):  # whichever worker answers, /metrics counts every worker
                text = client.get("/metrics").text
                assert _requests_total(text) == 60
                pids |= set(re.findall(r'^abgate_circuit_state\{.*pid="(\d+)"', text, re.M))
            assert len(pids) == 2  # both workers report
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM inference").fetchone()[0] == 60
    configs = conn.execute("SELECT count(*) FROM admin WHERE kind = 'experiment_config'")
    assert configs.fetchone()[0] == 1  # recorded by the primary only
    conn.close()
    report = verify_chain(db)
    assert report.ok and report.events == 61


def test_admin_calls_reach_the_primary_and_every_worker_follows(
    smoke_registry: Path, tmp_path: Path, windows: np.ndarray
) -> None:
    with serve(smoke_registry, tmp_path / "w.db", "--workers", "2") as (proc, url):
        _all_ready(proc, tmp_path)
        auth = {**FRESH, "authorization": "Bearer t"}
        with httpx.Client(base_url=url, timeout=10, headers=FRESH) as client:
            weights = {"weights": {"baseline-predictor": 0, "enhanced-predictor": 1}}
            r = client.put(f"/v2/experiments/{EXPERIMENT}/weights", json=weights, headers=auth)
            assert r.status_code == 200, r.text
            for _ in range(6):  # status comes from the primary, whoever is asked
                doc = client.get(f"/v2/experiments/{EXPERIMENT}").json()
                shares = {v["model"]: v["weight"] for v in doc["variants"]}
                assert shares == {"baseline-predictor": 0.0, "enhanced-predictor": 1.0}
            denied = client.put(f"/v2/experiments/{EXPERIMENT}/weights", json=weights)
            assert denied.status_code == 401  # the token is checked by the primary
            time.sleep(1.0)  # followers copy the routing every 0.2 s
            served = {
                client.post(INFER, json=infer_body(windows[i])).headers["x-seldon-route"]
                for i in range(30)
            }
            assert served == {":enhanced-predictor_1:"}
            down = {"down": True}
            r = client.put("/v2/models/enhanced-predictor/faults", json=down, headers=auth)
            assert r.status_code == 200, r.text
            time.sleep(1.0)
            for i in range(20):  # every worker sees the fault and falls back
                body = client.post(INFER, json=infer_body(windows[i])).json()
                assert body["parameters"]["assignment"] == "fallback"


def test_a_worker_that_dies_stops_the_gateway(smoke_registry: Path, tmp_path: Path) -> None:
    with serve(smoke_registry, tmp_path / "w.db", "--workers", "2") as (proc, _url):
        _all_ready(proc, tmp_path)
        workers = _workers(proc.pid)
        subprocess.run(["kill", "-KILL", str(workers[-1])], check=True)
        assert proc.wait(30) == 1  # a half-sized gateway is not left running
        deadline = time.monotonic() + 15
        while _alive(workers[0]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(workers[0])
    log = next(tmp_path.glob("gateway-*.log")).read_text()
    assert "Error: gateway worker 1 exited" in log


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return "zombie" not in fh.read()
    except FileNotFoundError:
        return False


def test_workers_need_a_fixed_port(smoke_registry: Path, tmp_path: Path) -> None:
    out = serve_once(smoke_registry, tmp_path / "w.db", "--workers", "2", "--port", "0")
    assert out.returncode == 1 and "Error: --workers needs a fixed --port" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_bad_experiment_file_is_an_error_not_a_traceback(
    smoke_registry: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "exp.yaml"
    bad.write_text("experiments: [oops\n")
    out = serve_once(
        smoke_registry,
        tmp_path / "w.db",
        *("--workers", "2", "--port", str(free_port()), "--config", str(bad)),
    )
    assert out.returncode == 1
    assert "Error:" in out.stderr and "exp.yaml" in out.stderr
    assert "Traceback" not in out.stderr
