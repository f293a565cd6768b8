"""Several gateway processes on one port: one primary owns the control plane, the others follow.

Every worker serves inference and feedback itself and writes to the one event log (its writer
serialises commits with the others and reads the chain head under the lock, so the hash chain
stays one chain). What must not be decided N times lives in the primary only: the live
analysis, the progressive rollout, the bandit, and the admin API. A follower

- forwards the experiment and admin endpoints to the primary over loopback (``Forwarder``), so
  a weight change, a promotion or a fault lands in one place whichever worker took the call;
- copies the primary's routing state, the experiments' weights and the injected faults, every
  ``interval_s`` (``RoutingFollower``): a change reaches every worker within that interval.

Circuit breakers stay per worker: each judges the calls it makes, as a sidecar proxy would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from abgate.gateway.config import FaultSettings
from abgate.gateway.http import Request, Response, error_response
from abgate.gateway.service import Gateway

log = logging.getLogger("abgate.gateway.cluster")

ROUTING_PATH = "/v2/internal/routing"
_PASS_HEADERS = ("authorization", "content-type", "x-request-id")


def routing_snapshot(gateway: Gateway) -> dict[str, Any]:
    """What followers copy: every experiment's weights and the faults in force."""
    faults = gateway.faults.settings if gateway.faults is not None else {}
    return {
        "experiments": {name: dict(exp.weights) for name, exp in gateway.experiments.items()},
        "faults": {model: s.model_dump() for model, s in faults.items()},
    }


def apply_routing(gateway: Gateway, snapshot: Mapping[str, Any]) -> bool:
    """Make this worker route like the snapshot; True if anything changed."""
    changed = False
    for name, weights in snapshot.get("experiments", {}).items():
        exp = gateway.experiments.get(name)
        new = {str(k): float(v) for k, v in weights.items()}
        if exp is not None and new != exp.weights and set(new) == set(exp.weights):
            exp.splitter.set_weights(new)
            exp.weights = new
            gateway.metrics.set_experiment_weights(name, new)
            changed = True
    if gateway.faults is not None:
        faults = {m: FaultSettings.model_validate(s) for m, s in snapshot.get("faults", {}).items()}
        if faults != dict(gateway.faults.settings):
            gateway.faults.replace_all(faults)
            changed = True
    return changed


class Forwarder:
    """Relays one request to the primary worker and hands its answer back unchanged."""

    def __init__(self, primary_url: str, timeout_s: float = 30.0):
        self.primary_url = primary_url.rstrip("/")
        self._timeout = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def forward(self, request: Request) -> Response:
        if self._client is None:
            self._client = httpx.AsyncClient(base_url=self.primary_url, timeout=self._timeout)
        headers = {k: v for k, v in request.headers.items() if k in _PASS_HEADERS}
        try:
            reply = await self._client.request(
                request.method,
                request.path,
                params=request.query or None,
                content=request.body or None,
                headers=headers,
            )
        except httpx.HTTPError as exc:
            return error_response(503, f"primary worker unavailable: {exc!r}")
        ctype = reply.headers.get("content-type", "application/json").encode("latin-1")
        return Response(reply.status_code, reply.content, ctype)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class RoutingFollower:
    """Polls the primary's routing state and applies it to this worker's gateway."""

    def __init__(self, gateway: Gateway, primary_url: str, interval_s: float = 0.2):
        self.gateway = gateway
        self.url = primary_url.rstrip("/") + ROUTING_PATH
        self.interval_s = interval_s
        self.synced = asyncio.Event()  # set after the first successful copy
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        async with httpx.AsyncClient(timeout=5.0) as client:
            while True:
                try:
                    reply = await client.get(self.url)
                    if reply.status_code == 200:
                        apply_routing(self.gateway, orjson.loads(reply.content))
                        self.synced.set()
                except (httpx.HTTPError, orjson.JSONDecodeError, ValueError) as exc:
                    log.debug("routing sync from %s failed: %r", self.url, exc)
                await asyncio.sleep(self.interval_s)
