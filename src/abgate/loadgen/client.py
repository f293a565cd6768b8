"""The load generator's HTTP side: send scenarios as V2 requests, score answers, send feedback.

Two load shapes:

- **closed loop** (``workers``): N concurrent clients, each sending its next request as soon as
  the previous answer arrives; latency is measured from send to answer;
- **open loop** (``rate``): requests start on a fixed schedule (``k / rate`` seconds after the
  start) whether or not earlier ones have finished; latency is measured from the *scheduled*
  start, so a stalled server shows up as latency instead of silently lowering the load
  (no coordinated omission).

Every request carries a unit key, an account id from a seeded pool, in ``x-user-id`` (the header
the demo experiment hashes on), and a returning account echoes the ``x-seldon-route`` it got last
time, Seldon Core v2's sticky-session mechanism. Requests are never retried: a failure is a
result to count. Each answered prediction is scored on the client (up when ``p > 0.5``, the
gateway's rule) and its truth is posted to the feedback endpoint in batches.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import orjson

from abgate.loadgen.scenarios import Scenario

ACCOUNT_HEADER = "x-user-id"
ROUTE_HEADER = "x-seldon-route"
INPUT_NAME = "ohlcv"
OUTPUT_NAME = "probability_up"
_FEEDBACK_LISTS = ("unknown", "duplicate", "invalid")


@dataclass(frozen=True)
class Target:
    """Where requests go: a gateway or a Seldon Core v2 mesh."""

    base_url: str
    experiment: str
    model: str
    """Model named in the URL path (the experiment's default model)."""
    host_header: str | None = None
    """``Host`` to send, for an ingress that routes by virtual host."""
    token: str | None = None
    """Bearer token for the feedback endpoint, when it is not open."""

    @property
    def infer_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/v2/models/{self.model}/infer"

    @property
    def feedback_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/v2/experiments/{self.experiment}/feedback"

    @property
    def status_url(self) -> str:
        return f"{self.base_url.rstrip('/')}/v2/experiments/{self.experiment}"

    def headers(self, *, inference: bool = True) -> dict[str, str]:
        """Headers of an inference call, or of a feedback call (``inference=False``)."""
        out = {"content-type": "application/json"}
        if inference:
            out["seldon-model"] = f"{self.experiment}.experiment"
        elif self.token:
            out["authorization"] = f"Bearer {self.token}"
        if self.host_header:
            out["host"] = self.host_header
        return out


@dataclass(frozen=True)
class Planned:
    """One request to send."""

    seq: int
    request_id: str
    account: str
    scenario: Scenario


@dataclass(frozen=True)
class Outcome:
    """What happened to one request, as the client saw it."""

    planned: Planned
    status: int
    """HTTP status; 0 when no answer came (connection refused, timeout)."""
    latency_ms: float
    finished_s: float
    """Seconds since the start of the load."""
    model: str | None = None
    version: str | None = None
    assignment: str | None = None
    fallback_reason: str | None = None
    probability: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.probability is not None

    @property
    def predicted(self) -> int | None:
        return None if self.probability is None else int(self.probability > 0.5)

    @property
    def correct(self) -> bool | None:
        predicted = self.predicted
        return None if predicted is None else predicted == self.planned.scenario.truth


@dataclass(frozen=True)
class FeedbackBatch:
    """The gateway's answer to one feedback batch (``error`` set when the call failed)."""

    ids: tuple[str, ...]
    accepted: int = 0
    unknown: tuple[str, ...] = ()
    duplicate: tuple[str, ...] = ()
    invalid: tuple[str, ...] = ()
    error: str | None = None


def plan_requests(
    scenarios: Sequence[Scenario], count: int, *, accounts: int, seed: int, run_id: str
) -> list[Planned]:
    """``count`` requests cycling through ``scenarios``, each from a seeded random account."""
    if not scenarios:
        raise ValueError("no scenarios to send")
    if count < 1 or accounts < 1:
        raise ValueError("count and accounts must be ≥ 1")
    rng = np.random.default_rng([seed, 1])  # its own stream: scenario sampling uses `seed`
    picks = rng.integers(0, accounts, size=count).tolist()
    width = len(str(accounts - 1))
    return [
        Planned(i, f"{run_id}-{i:06d}", f"acct-{a:0{width}d}", scenarios[i % len(scenarios)])
        for i, a in enumerate(picks)
    ]


def encode_request(planned: Planned) -> bytes:
    window = planned.scenario.window
    doc = {
        "id": planned.request_id,
        "inputs": [
            {
                "name": INPUT_NAME,
                "shape": [1, *window.shape],
                "datatype": "FP32",
                "data": window.reshape(-1),
            }
        ],
    }
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


def _probability(doc: dict[str, Any]) -> float:
    outputs = doc.get("outputs") or []
    chosen: dict[str, Any] = next((o for o in outputs if o.get("name") == OUTPUT_NAME), {})
    data = chosen.get("data")
    if not isinstance(data, list) or not data:
        raise ValueError(f"no {OUTPUT_NAME} output in the response")
    value = float(data[0])
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        raise ValueError(f"{OUTPUT_NAME} {value!r} is not a probability")
    return value


class LoadGenerator:
    """Sends planned requests through ``http`` (owned by the caller) and reports each outcome."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        target: Target,
        *,
        on_outcome: Callable[[Outcome], None],
        on_feedback: Callable[[FeedbackBatch], None],
        feedback_batch: int = 50,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        if feedback_batch < 1:
            raise ValueError("feedback_batch must be ≥ 1")
        self.http = http
        self.target = target
        self.on_outcome = on_outcome
        self.on_feedback = on_feedback
        self.feedback_batch = feedback_batch
        self.clock = clock
        self._headers = target.headers()
        self._routes: dict[str, str] = {}  # account → last x-seldon-route (sticky sessions)
        self._pending: list[tuple[str, int]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._start = clock()

    async def closed_loop(self, plan: Sequence[Planned], workers: int) -> None:
        """Send ``plan`` with ``workers`` concurrent clients, then flush the feedback."""
        if workers < 1:
            raise ValueError("workers must be ≥ 1")
        self._start = self.clock()
        queue = iter(plan)  # shared: each worker takes the next request when it is free

        async def worker() -> None:
            for planned in queue:
                await self._send(planned, None)

        await asyncio.gather(*(worker() for _ in range(workers)))
        await self.flush()

    async def open_loop(self, plan: Sequence[Planned], rate: float) -> None:
        """Start request k at ``k / rate`` seconds, never waiting for answers; then flush."""
        if not rate > 0:
            raise ValueError("rate must be > 0")
        self._start = self.clock()
        running: set[asyncio.Task[None]] = set()
        for k, planned in enumerate(plan):
            due = self._start + k / rate
            if (delay := due - self.clock()) > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(self._send(planned, due))
            running.add(task)
            task.add_done_callback(running.discard)
        if running:
            await asyncio.gather(*running)
        await self.flush()

    async def _send(self, planned: Planned, scheduled: float | None) -> None:
        headers = dict(self._headers)
        headers[ACCOUNT_HEADER] = planned.account
        if route := self._routes.get(planned.account):
            headers[ROUTE_HEADER] = route
        started = self.clock() if scheduled is None else scheduled
        status = 0
        fields: dict[str, Any] = {}
        try:
            response = await self.http.post(
                self.target.infer_url, content=encode_request(planned), headers=headers
            )
            status = response.status_code
            doc = orjson.loads(response.content) if response.content else {}
            if status >= 400 or not isinstance(doc, dict):
                error = doc.get("error") if isinstance(doc, dict) else None
                fields["error"] = f"HTTP {status}: {error or response.reason_phrase}"
            else:
                model, _, version = str(doc.get("model_name", "")).partition("_")
                params = doc.get("parameters") or {}
                fields.update(
                    model=model or None,
                    version=version or str(doc.get("model_version") or "") or None,
                    assignment=params.get("assignment"),
                    fallback_reason=params.get("fallback_reason"),
                    probability=_probability(doc),
                )
                if route := response.headers.get(ROUTE_HEADER):
                    self._routes[planned.account] = route
        except httpx.HTTPError as exc:
            status, fields = 0, {"error": f"{type(exc).__name__}: {exc}".rstrip(": ")}
        except (ValueError, TypeError, AttributeError) as exc:  # a malformed answer
            fields = {"error": f"bad response: {exc}"}
        now = self.clock()
        outcome = Outcome(planned, status, (now - started) * 1000.0, now - self._start, **fields)
        self.on_outcome(outcome)
        if outcome.ok:
            self._pending.append((planned.request_id, planned.scenario.truth))
            if len(self._pending) >= self.feedback_batch:
                self._post_feedback()

    def _post_feedback(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.create_task(self._feedback(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def flush(self) -> None:
        """Send the last partial feedback batch and wait for every batch in flight."""
        if self._pending:
            self._post_feedback()
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    async def _feedback(self, batch: list[tuple[str, int]]) -> None:
        ids = tuple(i for i, _ in batch)
        headers = self.target.headers(inference=False)
        body = orjson.dumps({"feedback": [{"id": i, "truth": t} for i, t in batch]})
        try:
            response = await self.http.post(self.target.feedback_url, content=body, headers=headers)
            doc = orjson.loads(response.content)
            if response.status_code >= 400 or not isinstance(doc, dict):
                raise ValueError(f"HTTP {response.status_code}: {doc}")
            unknown, duplicate, invalid = (tuple(doc.get(k, ())) for k in _FEEDBACK_LISTS)
            result = FeedbackBatch(ids, int(doc.get("accepted", 0)), unknown, duplicate, invalid)
        except (httpx.HTTPError, ValueError, TypeError) as exc:
            result = FeedbackBatch(ids, error=f"{type(exc).__name__}: {exc}")
        self.on_feedback(result)
