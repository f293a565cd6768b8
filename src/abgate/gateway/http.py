"""Minimal ASGI plumbing: request/response objects and a compiled route table.

The gateway speaks raw ASGI instead of a framework: the hot path (read body → infer → write)
is a handful of calls, and the whole HTTP surface stays in one table (see :mod:`.app`).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(slots=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    client: str | None
    params: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    query: str = ""  # raw query string, for requests relayed to another worker


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: bytes = b"application/json"
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


Handler = Callable[[Request], Awaitable[Response]]


def json_response(
    doc: Any, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None
) -> Response:
    return Response(status, orjson.dumps(doc), headers=headers or [])


def error_response(status: int, message: str) -> Response:
    return Response(status, orjson.dumps({"error": message}))


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: str
    handler: Handler
    reads_body: bool = False


class Router:
    """``/v2/models/{model}/infer``-style patterns; ``{x}`` matches one path segment."""

    def __init__(self, routes: Sequence[Route]):
        self._static: dict[tuple[str, str], Route] = {}
        self._dynamic: list[tuple[re.Pattern[str], Route]] = []
        self._paths: list[re.Pattern[str]] = []
        for r in routes:
            if "{" not in r.pattern:
                self._static[(r.method, r.pattern)] = r
            regex = re.compile(
                "^"
                + re.sub(
                    r"\{(\w+)\}",
                    r"(?P<\1>[^/]+)",
                    re.escape(r.pattern).replace(r"\{", "{").replace(r"\}", "}"),
                )
                + "$"
            )
            self._paths.append(regex)
            if "{" in r.pattern:
                self._dynamic.append((regex, r))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_exists): path_exists distinguishes 405 from 404."""
        route = self._static.get((method, path))
        if route is not None:
            return route, {}, True
        for regex, r in self._dynamic:
            if r.method == method:
                m = regex.match(path)
                if m:
                    return r, m.groupdict(), True
        return None, {}, any(p.match(path) for p in self._paths)
