"""``abgate serve --workers N``: N gateway processes on one listening socket, and their supervisor.

The supervisor binds the port once and hands the socket to every worker (the kernel spreads
connections over the processes accepting on it). Worker 0 is the primary: it also listens on a
private loopback port, through which the followers relay the control plane and copy its
routing (see :mod:`abgate.gateway.cluster`). Metrics go to a shared directory
(``PROMETHEUS_MULTIPROC_DIR``) so ``/metrics`` on any worker sums all of them; events go to the
one log. The primary starts first, so the followers find it ready.

SIGINT or SIGTERM to the supervisor stops every worker gracefully (each drains its requests and
flushes its events). A worker that dies on its own takes the others down with it and the
supervisor exits 1: a half-sized gateway is a surprise; a restart by the orchestrator is not.
Workers exit by themselves if the supervisor disappears.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from types import FrameType
from typing import Any

import httpx

from abgate.errors import AbgateError, ConfigError
from abgate.gateway.settings import ServerSettings, load_server_settings

_ENV = "ABGATEW_"  # not ABGATE_: these are not settings


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _settings_json(settings: ServerSettings) -> str:
    doc: dict[str, Any] = settings.model_dump()
    token = settings.admin_token
    doc["admin_token"] = token.get_secret_value() if token is not None else None
    doc["workers"] = 1  # each worker is one process
    return json.dumps(doc)


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"the primary worker exited with {proc.returncode} while starting")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise ConfigError(f"the primary worker was not ready after {timeout_s:g} s")


def supervise(settings: ServerSettings, log_level: str) -> int:
    """Run ``settings.workers`` workers until a signal or a worker's death; the exit code."""
    shared = _listen(settings.host, settings.port)
    private = _listen("127.0.0.1", 0)
    primary_url = f"http://127.0.0.1:{private.getsockname()[1]}"
    metrics_dir = tempfile.mkdtemp(prefix="abgate-metrics-")
    base = dict(os.environ)
    base.update(
        {
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
            f"{_ENV}SETTINGS": _settings_json(settings),
            f"{_ENV}FD": str(shared.fileno()),
            f"{_ENV}PRIMARY_URL": primary_url,
            f"{_ENV}LOG_LEVEL": log_level,
            f"{_ENV}PARENT": str(os.getpid()),
        }
    )
    ready_r, ready_w = os.pipe()  # each worker writes a line once it accepts connections
    os.set_blocking(ready_r, False)
    base[f"{_ENV}READY_FD"] = str(ready_w)
    procs: list[subprocess.Popen[bytes]] = []
    stopping = threading.Event()
    ready = b""

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    code = 0
    try:
        for index in range(settings.workers):
            env = dict(base, **{f"{_ENV}INDEX": str(index)})
            fds = [shared.fileno(), ready_w]
            if index == 0:
                env[f"{_ENV}PRIMARY_FD"] = str(private.fileno())
                fds.append(private.fileno())
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "abgate.gateway.workers"],
                    env=env,
                    pass_fds=fds,
                    start_new_session=True,  # a terminal's Ctrl-C reaches the supervisor only
                )
            )
            if index == 0:
                _wait_ready(primary_url + "/v2/health/ready", procs[0])
        while not stopping.wait(0.2):
            if ready.count(b"\n") < len(procs):
                with contextlib.suppress(BlockingIOError):
                    ready += os.read(ready_r, 4096)
                if ready.count(b"\n") == len(procs):
                    print(f"abgate: all {len(procs)} workers ready", file=sys.stderr, flush=True)
            dead = [p for p in procs if p.poll() is not None]
            if dead:
                print(
                    f"Error: gateway worker {procs.index(dead[0])} exited with "
                    f"{dead[0].returncode}; stopping the others",
                    file=sys.stderr,
                )
                code = 1
                break
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        code = 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for p in procs:
            try:
                p.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                code = 1
        for s, handler in old.items():
            signal.signal(s, handler)
        shared.close()
        private.close()
        os.close(ready_r)
        os.close(ready_w)
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return code


def _exit_with_parent(parent: int) -> None:
    """SIGTERM this worker if the supervisor is gone (killed with SIGKILL, say)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="abgate-parent-watch", daemon=True).start()


def worker_main() -> None:
    import uvicorn

    from abgate.gateway.server import build_app
    from abgate.gateway.wire import OneWriteHttpToolsProtocol

    env = os.environ
    index = int(env[f"{_ENV}INDEX"])
    _exit_with_parent(int(env[f"{_ENV}PARENT"]))
    settings = load_server_settings(**json.loads(env[f"{_ENV}SETTINGS"]))
    sockets = [socket.socket(fileno=int(env[f"{_ENV}FD"]))]
    if index == 0:
        sockets.append(socket.socket(fileno=int(env[f"{_ENV}PRIMARY_FD"])))
    try:
        app = build_app(settings, primary_url=None if index == 0 else env[f"{_ENV}PRIMARY_URL"])
    except AbgateError as exc:  # a bad experiment file, a missing model: say so, no traceback
        print(f"Error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    config = uvicorn.Config(
        app,
        loop="uvloop",
        http=OneWriteHttpToolsProtocol,
        lifespan="on",
        proxy_headers=False,
        log_level=env.get(f"{_ENV}LOG_LEVEL", "warning"),
        timeout_graceful_shutdown=10,
    )
    ready_fd = int(env[f"{_ENV}READY_FD"])

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:  # tell the supervisor this worker accepts connections
                os.write(ready_fd, f"{index}\n".encode())

    Server(config).run(sockets=sockets)


if __name__ == "__main__":
    worker_main()
