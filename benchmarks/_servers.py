"""Start and stop the servers benchmarks compare, on loopback, each in its own process."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
MLSERVER_VENV = ROOT / ".venv-mlserver"
MLSERVER_VERSION = "1.7.1"
MLSERVER_UVLOOP = "0.21.0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(
    url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0, post: bool = False
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before becoming ready")
        try:
            call = httpx.post if post else httpx.get
            if call(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port} after {timeout} s")


@contextlib.contextmanager
def running(
    cmd: list[str],
    ready_url: str | None,
    log: Path,
    cwd: Path | None = None,
    *,
    post_ready: bool = False,
    wait_port: int | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd)
        try:
            if wait_port is not None:
                _wait_port(wait_port, proc)
            elif ready_url is not None:
                wait_ready(ready_url, proc, post=post_ready)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def ensure_mlserver() -> Path:
    """A separate venv with MLServer (its pins differ from ours) plus abgate's runtime."""
    python = MLSERVER_VENV / "bin" / "python"
    if not (MLSERVER_VENV / "bin" / "mlserver").exists():
        print(
            f"creating {MLSERVER_VENV} with mlserver=={MLSERVER_VERSION} (one time)...", flush=True
        )
        subprocess.run([sys.executable, "-m", "venv", str(MLSERVER_VENV)], check=True)
        subprocess.run(
            [
                str(python),
                "-m",
                "pip",
                "install",
                "-q",
                f"mlserver=={MLSERVER_VERSION}",
                "onnxruntime",
            ],
            check=True,
        )
    # MLServer 1.7.1's parallel inference workers call asyncio.get_event_loop() before a loop
    # exists; uvloop 0.22+ raises there ("There is no current event loop"), 0.21 does not.
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", f"uvloop=={MLSERVER_UVLOOP}"], check=True
    )
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)], check=True
    )
    return MLSERVER_VENV / "bin" / "mlserver"


def mlserver_repo(
    dest: Path,
    models: dict[str, Path],
    port: int,
    workers: int,
    max_batch_size: int = 0,
    max_batch_time: float = 0.0,
) -> None:
    """A model repository folder: settings.json + one folder per registry model version."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    (dest / "settings.json").write_text(
        json.dumps(
            {
                "host": "127.0.0.1",
                "http_port": port,
                "grpc_port": free_port(),
                "metrics_port": free_port(),
                "parallel_workers": workers,
                "debug": False,
            }
        )
    )
    for name, version_dir in models.items():
        shutil.copytree(version_dir, dest / name)
        if max_batch_size > 1:  # MLServer's adaptive batching
            settings_path = dest / name / "model-settings.json"
            doc = json.loads(settings_path.read_text())
            doc |= {"max_batch_size": max_batch_size, "max_batch_time": max_batch_time}
            settings_path.write_text(json.dumps(doc))


NGINX_CONF = """
worker_processes 1;
pid {pid};
error_log {log} warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    upstream mlserver {{ server 127.0.0.1:{upstream}; keepalive 64; }}
    # The seed's ingress-level A/B split: 70/30 by request, each half to its own model.
    split_clients "${{request_id}}" $variant {{
        70% baseline-predictor;
        *   enhanced-predictor;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://mlserver/v2/models/$variant/infer;
        }}
    }}
}}
"""


def nginx_config(tmp: Path, port: int, upstream: int) -> Path:
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    conf = tmp / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            pid=tmp / "nginx.pid", log=tmp / "error.log", tmp=tmp, port=port, upstream=upstream
        )
    )
    return conf
