"""Slow-loris: clients that trickle a body are cut off with a 408; others are served meanwhile."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from ..helpers import serve
from .conftest import infer_body

pytestmark = pytest.mark.slow


def test_partial_bodies_time_out_without_blocking_others(
    smoke_registry: Path, tmp_path: Path, windows: np.ndarray
) -> None:
    env = {"ABGATE_BODY_TIMEOUT_S": "1"}
    with serve(smoke_registry, tmp_path / "e.db", "--durability", "relaxed", env=env) as (_, url):
        port = int(url.rsplit(":", 1)[1])
        slow = []
        for _ in range(20):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(
                b"POST /v2/models/baseline-predictor/infer HTTP/1.1\r\nHost: x\r\n"
                b'Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"inputs": ['
            )
            slow.append(s)
        started = time.monotonic()
        with httpx.Client(base_url=url, timeout=5) as client:
            for i in range(20):  # the well-behaved clients are served while the slow ones hang
                r = client.post("/v2/models/baseline-predictor/infer", json=infer_body(windows[i]))
                assert r.status_code == 200
        for s in slow:
            s.settimeout(5)
            reply = b""
            while b"body not received" not in reply:  # the reply may arrive in pieces
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
            s.close()
            assert reply.startswith(b"HTTP/1.1 408"), reply[:80]
            assert b"body not received within 1 s" in reply
        assert time.monotonic() - started < 10
