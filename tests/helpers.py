"""Helpers shared by tests: a real gateway subprocess on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_argv(registry: Path, db: Path, *extra: str) -> list[str]:
    """The `abgate serve` command line for a registry and an event log."""
    cli = [sys.executable, "-m", "abgate.cli.main", "serve"]
    return [*cli, "--registry", str(registry), "--events-db", str(db), *extra]


def serve_once(
    registry: Path, db: Path, *extra: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`abgate serve` expected to exit by itself (a refused setting): its exit code and output."""
    argv = serve_argv(registry, db, *extra)
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


@contextlib.contextmanager
def serve(
    registry: Path,
    db: Path,
    *extra: str,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`abgate serve` on loopback (admin token "t"); output goes to a log file beside ``db``
    (a pipe nobody reads could fill up and stall the server)."""
    port = port or free_port()
    log_path = db.parent / f"gateway-{port}.log"
    with log_path.open("a") as log:
        proc = subprocess.Popen(
            serve_argv(registry, db, "--port", str(port), "--admin-token", "t", *extra),
            env=None if env is None else {**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            proc.wait(5)
            raise RuntimeError(f"gateway did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.1)
    try:
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
