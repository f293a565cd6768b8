"""The Python HTTP floor: an ASGI app that reads the request body and returns a fixed small JSON.

Served by the same stack as the gateway (uvicorn, uvloop, httptools, one worker) so the
difference between the two is what abgate's routing, inference, logging and metrics cost.
"""

from __future__ import annotations

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
