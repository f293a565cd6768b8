"""uvicorn's httptools protocol, writing each response in one system call instead of two.

An ASGI response is two messages (``http.response.start``, then ``http.response.body``) and the
stock protocol hands each to the socket as it comes: two ``write`` calls, and on loopback each
call also runs the receiving side of TCP. Here the status line and headers wait for the body
and leave with it. If the body does not follow in the same step of the event loop (a streamed
response, an app that awaits between the two messages), the held head goes out at the next turn
of the loop, so nothing is ever delayed by more than that. Measured in
``benchmarks/bench_means.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_HEAD = b"HTTP/1.1 "
_CONTINUE = b"HTTP/1.1 100 "


class _OneWriteTransport:
    """Holds a response head until the next write (or the next loop turn) and sends both."""

    __slots__ = ("_flush_scheduled", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._flush_scheduled = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + bytes(data))
        elif data[:9] == _HEAD and data[:13] != _CONTINUE:
            self._held = bytes(data)
            if not self._flush_scheduled:
                self._flush_scheduled = True
                self._loop.call_soon(self._flush)
        else:
            self._transport.write(data)

    def _flush(self) -> None:
        self._flush_scheduled = False
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """Pass as ``uvicorn.run(..., http=OneWriteHttpToolsProtocol)``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        wrapped: Any = _OneWriteTransport(transport, self.loop)
        super().connection_made(wrapped)
