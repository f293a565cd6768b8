"""One write per response: a real uvicorn server with the protocol, raw sockets on loopback."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from abgate.gateway.wire import OneWriteHttpToolsProtocol, _OneWriteTransport


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    head = {"type": "http.response.start", "status": 200}
    if scope["path"] == "/stream":  # the body comes later, in pieces
        await send({**head, "headers": [(b"content-type", b"text/plain")]})
        await asyncio.sleep(0.05)
        await send({"type": "http.response.body", "body": b"one,", "more_body": True})
        await asyncio.sleep(0.05)
        await send({"type": "http.response.body", "body": b"two"})
        return
    reply = b"echo:" + body
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(reply)).encode())]
    await send({**head, "headers": headers})
    await send({"type": "http.response.body", "body": reply})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, loop="asyncio", http=OneWriteHttpToolsProtocol, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    yield sock.getsockname()[1]
    server.should_exit = True
    thread.join(5)


def _read_response(s: socket.socket, until: bytes) -> bytes:
    data = b""
    while until not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_keep_alive_requests_each_get_their_whole_response(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for i in range(3):
            body = f"request {i}".encode()
            s.sendall(
                b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
            reply = _read_response(s, b"echo:" + body)
            assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
            assert reply.endswith(b"\r\n\r\necho:" + body)


def test_pipelined_requests_are_answered_in_order(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        one = b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nA"
        two = b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nB"
        s.sendall(one + two)
        replies = _read_response(s, b"echo:B")
        assert replies.index(b"echo:A") < replies.index(b"echo:B")


def test_expect_100_continue_goes_out_on_its_own(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(
            b"POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        )
        interim = _read_response(s, b"\r\n\r\n")
        assert interim.startswith(b"HTTP/1.1 100 Continue")  # not held back waiting for a body
        s.sendall(b"hi")
        assert _read_response(s, b"echo:hi").endswith(b"echo:hi")


def test_a_streamed_response_is_not_held_back(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /stream HTTP/1.1\r\nHost: t\r\n\r\n")
        head = _read_response(s, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 OK")  # sent at the next loop turn, before the body
        assert b"one," not in head
        rest = _read_response(s, b"0\r\n\r\n")
        assert b"one," in rest and b"two" in rest


class _Recorder:
    """Stands in for the socket transport to count write calls (not observable on the wire)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


async def test_head_and_body_leave_in_one_write() -> None:
    rec = _Recorder()
    t = _OneWriteTransport(rec, asyncio.get_running_loop())  # type: ignore[arg-type]
    t.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    t.write(b"ok")
    assert rec.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"]
    t.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # interim responses are never held
    assert rec.writes[-1] == b"HTTP/1.1 100 Continue\r\n\r\n"
    t.write(b"HTTP/1.1 204 No Content\r\n\r\n")
    t.close()  # a held head is written before the transport closes
    assert rec.writes[-1] == b"HTTP/1.1 204 No Content\r\n\r\n" and rec.closed
    assert t.get_extra_info("peername") == "info:peername"
    await asyncio.sleep(0)  # the scheduled flush finds nothing left to write
    assert len(rec.writes) == 3
