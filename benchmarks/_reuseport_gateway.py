"""One gateway process on a port that others share (SO_REUSEPORT): the several-workers experiment.

    python benchmarks/_reuseport_gateway.py PORT EVENTS_DB DURABILITY REGISTRY

Each process is a whole gateway (its own models, breakers, metrics) writing to the one event
log; the kernel spreads connections over the processes. Used by ``bench_means.py`` only: the
product serves one process per port (see docs/decisions.md, "Several worker processes").
"""

from __future__ import annotations

import socket
import sys

import uvicorn

from abgate.gateway.server import build_app
from abgate.gateway.settings import load_server_settings
from abgate.gateway.wire import OneWriteHttpToolsProtocol


def main() -> None:
    port, events_db, durability, registry = sys.argv[1:5]
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", int(port)))
    settings = load_server_settings(
        registry=registry, events_db=events_db, durability=durability, admin_token="bench"
    )
    config = uvicorn.Config(
        build_app(settings),
        loop="uvloop",
        http=OneWriteHttpToolsProtocol,
        proxy_headers=False,
        log_level="warning",
    )
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
