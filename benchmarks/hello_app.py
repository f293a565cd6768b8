"""The Python HTTP floor: an ASGI app that reads the request body and returns a fixed small JSON.

Served by the same stack as the gateway (uvicorn, uvloop, httptools with the one-write protocol,
one worker, no proxy-headers middleware) so the difference between the two is what abgate's
routing, inference, logging and metrics cost; ``--stock`` serves it with uvicorn's own protocol.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

BODY = b'{"model_name":"hello","outputs":[]}'
HEADERS = [(b"content-type", b"application/json")]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})


def main() -> None:
    """``python benchmarks/hello_app.py PORT [--stock] [--workers N]``: serve on 127.0.0.1:PORT
    with the gateway's server stack (uvicorn, uvloop, httptools with abgate's one-write
    protocol), or with uvicorn's stock httptools protocol; N uvicorn worker processes."""
    import argparse

    import uvicorn

    from abgate.gateway.wire import OneWriteHttpToolsProtocol

    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--stock", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "hello_app:app",
        app_dir=str(Path(__file__).resolve().parent),
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools" if args.stock else OneWriteHttpToolsProtocol,
        proxy_headers=False,
        log_level="warning",
        lifespan="off",
    )


if __name__ == "__main__":
    main()
