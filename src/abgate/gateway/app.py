"""The gateway's HTTP surface: one route table, one error table, an ASGI entry point.

Routes (Open Inference Protocol V2 plus abgate's experiment endpoints)::

    GET  /v2/health/live                               liveness
    GET  /v2/health/ready                              every model loaded
    GET  /v2                                           server metadata
    GET  /v2/models/{model}[/versions/{v}]             model metadata
    GET  /v2/models/{model}[/versions/{v}]/ready       model readiness
    POST /v2/models/{model}[/versions/{v}]/infer       inference (split when {model} is a default)
    GET  /v2/experiments                               list experiments
    GET  /v2/experiments/{experiment}                  status: weights, breakers, live accuracy
    GET  /v2/experiments/{experiment}/summary          status + live analysis, verdict, drift
    PUT  /v2/experiments/{experiment}/weights          set weights (admin token)
    POST /v2/experiments/{experiment}/{action}         promote | rollback | pause | resume (admin)
    PUT  /v2/models/{model}/faults                     inject or clear faults (admin)
    POST /v2/experiments/{experiment}/feedback         ground truth for earlier predictions
    GET  /metrics                                      Prometheus exposition
    GET  /dashboard                                    built-in live dashboard (HTML)
    GET  /openapi.json                                 this API as OpenAPI 3.1
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import random
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from abgate import __version__
from abgate.errors import AbgateError, NotFoundError, ProtocolError, StoreError
from abgate.events.types import AdminEvent, FeedbackItem
from abgate.gateway.bandit import BanditAllocator
from abgate.gateway.cluster import ROUTING_PATH, Forwarder, routing_snapshot
from abgate.gateway.config import FaultSettings
from abgate.gateway.controller import RolloutController
from abgate.gateway.dashboard import dashboard_response
from abgate.gateway.http import (
    Receive,
    Request,
    Response,
    Route,
    Router,
    Scope,
    Send,
    error_response,
    json_response,
)
from abgate.gateway.live import LiveAnalyzer
from abgate.gateway.openapi import openapi_document
from abgate.gateway.protocol import OutputTensor, TensorSpec, encode_response, parse_infer_request
from abgate.gateway.rollout import Action
from abgate.gateway.routing import format_route
from abgate.gateway.service import Gateway

log = logging.getLogger("abgate.gateway")

SIGNAL_SPEC = TensorSpec("signal", "BYTES", (-1, 1))
LOOPBACK = ("127.", "::1", "localhost")
_JSON_TYPES = ("application/json", "application/octet-stream", "application/x-www-form-urlencoded")
BODY_TIMEOUT_S = 30.0


class GatewayApp:
    """ASGI application around a :class:`Gateway`."""

    def __init__(
        self,
        gateway: Gateway,
        registry: CollectorRegistry,
        *,
        admin_token: str | None,
        max_body_bytes: int = 4 * 1024 * 1024,
        body_timeout_s: float = BODY_TIMEOUT_S,
        open_feedback_on_loopback: bool = True,
        on_startup: Callable[[], Awaitable[None]] | None = None,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
        live: LiveAnalyzer | None = None,
        controller: RolloutController | None = None,
        forwarder: Forwarder | None = None,
    ):
        self.gateway = gateway
        self.registry = registry
        self.admin_token = admin_token
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.open_feedback_on_loopback = open_feedback_on_loopback
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self.analyzer = live
        self.controller = controller
        self.bandit: BanditAllocator | None = None
        # A follower worker relays the control plane to the primary (see gateway.cluster).
        self.forwarder = forwarder
        self._body_deadlines: dict[asyncio.Task[Any], float] = {}
        self._body_expired: set[asyncio.Task[Any]] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._openapi = openapi_document()
        # Request ids need uniqueness, not secrecy: os.urandom per request costs ~30 µs here.
        self._ids = random.Random(os.urandom(16))
        v = "/versions/{version}"
        self.router = Router(
            [
                Route("GET", "/v2/health/live", self.live),
                Route("GET", "/v2/health/ready", self.ready),
                Route("GET", "/v2", self.server_metadata),
                Route("GET", "/v2/models/{model}", self.model_metadata),
                Route("GET", "/v2/models/{model}" + v, self.model_metadata),
                Route("GET", "/v2/models/{model}/ready", self.model_ready),
                Route("GET", "/v2/models/{model}" + v + "/ready", self.model_ready),
                Route("POST", "/v2/models/{model}/infer", self.infer, True),
                Route("POST", "/v2/models/{model}" + v + "/infer", self.infer, True),
                Route("PUT", "/v2/models/{model}/faults", self.set_faults, True),
                Route("GET", "/v2/experiments", self.list_experiments),
                Route("GET", "/v2/experiments/{experiment}", self.experiment_status),
                Route("GET", "/v2/experiments/{experiment}/summary", self.experiment_summary),
                Route("PUT", "/v2/experiments/{experiment}/weights", self.set_weights, True),
                Route("POST", "/v2/experiments/{experiment}/feedback", self.feedback, True),
                # after the fixed paths above: {action} would match them too
                Route("POST", "/v2/experiments/{experiment}/{action}", self.control, True),
                Route("GET", "/metrics", self.metrics),
                Route("GET", "/openapi.json", self.openapi),
                Route("GET", "/dashboard", self.dashboard),
                Route("GET", ROUTING_PATH, self.routing),
            ]
        )
        self._forwarded = {
            self.list_experiments,
            self.experiment_status,
            self.experiment_summary,
            self.set_weights,
            self.control,
            self.set_faults,
        }

    # ---- ASGI ------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def startup(self) -> None:
        if self._on_startup is not None:
            await self._on_startup()

    async def shutdown(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._on_shutdown is not None:
            await self._on_shutdown()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        client = scope.get("client")
        request = Request(scope["method"], scope["path"], headers, client[0] if client else None)
        route, params, exists = self.router.match(request.method, request.path)
        if route is None:
            if exists:
                response = error_response(405, f"method {request.method} not allowed here")
            else:
                response = error_response(404, f"no route {request.path}")
        else:
            request.params = params
            try:
                if route.reads_body:
                    request.body = await self._read_body(request, receive)
                if self.forwarder is not None and route.handler in self._forwarded:
                    request.query = scope.get("query_string", b"").decode("latin-1")
                    response = await self.forwarder.forward(request)
                else:
                    response = await route.handler(request)
            except ProtocolError as exc:
                response = error_response(exc.status_code, str(exc))
            except StoreError as exc:
                log.error("event log failure: %s", exc)
                response = error_response(503, f"event log unavailable: {exc}")
            except AbgateError as exc:
                response = error_response(500, str(exc))
            except Exception:
                log.exception("unhandled error on %s %s", request.method, request.path)
                response = error_response(500, "internal error (logged on the server)")
        raw = [(b"content-type", response.content_type), *response.headers]
        await send({"type": "http.response.start", "status": response.status, "headers": raw})
        await send({"type": "http.response.body", "body": response.body})

    async def _read_body(self, request: Request, receive: Receive) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                raise ProtocolError("invalid Content-Length")
            if int(declared) > self.max_body_bytes:
                raise ProtocolError(
                    f"body of {declared} bytes exceeds the limit of {self.max_body_bytes}", 413
                )
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and ctype not in _JSON_TYPES and not ctype.endswith("+json"):
            raise ProtocolError(f"content type {ctype!r} not supported; send application/json", 415)
        chunks: list[bytes] = []
        size = 0
        deadlines = self._body_deadlines
        loop = self._running_loop()
        task = asyncio.current_task(loop)
        assert task is not None
        # A dict entry swept by one watchdog costs a tenth of asyncio.timeout() per request.
        deadlines[task] = loop.time() + self.body_timeout_s
        if self._watchdog is None or self._watchdog.done():
            self._watchdog = loop.create_task(self._watch_bodies())
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ProtocolError("client disconnected", 400)
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise ProtocolError(
                        f"body exceeds the limit of {self.max_body_bytes} bytes", 413
                    )
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        except asyncio.CancelledError:
            if task not in self._body_expired:
                raise
            self._body_expired.discard(task)
            task.uncancel()
            raise ProtocolError(
                f"body not received within {self.body_timeout_s:g} s", 408
            ) from None
        finally:
            deadlines.pop(task, None)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        # asyncio.get_running_loop() makes a getpid() system call on every call (fork check);
        # the app serves from one loop, so ask once (again only if that loop has closed).
        loop = self._loop
        if loop is None or loop.is_closed():
            loop = self._loop = asyncio.get_running_loop()
        return loop

    async def _watch_bodies(self) -> None:
        """Cancel body reads that have outlived ``body_timeout_s`` (they answer 408)."""
        loop = asyncio.get_running_loop()
        period = min(0.5, self.body_timeout_s / 4)
        while self._body_deadlines:
            await asyncio.sleep(period)
            now = loop.time()
            for task, deadline in list(self._body_deadlines.items()):
                if deadline <= now and task not in self._body_expired:
                    self._body_expired.add(task)
                    task.cancel()

    # ---- health and metadata ---------------------------------------------------------------
    async def live(self, request: Request) -> Response:
        return json_response({"live": True})

    async def ready(self, request: Request) -> Response:
        return json_response({"ready": True})

    async def server_metadata(self, request: Request) -> Response:
        return json_response(
            {
                "name": "abgate",
                "version": __version__,
                "extensions": ["binary_tensor_data", "experiments", "feedback", "metrics"],
            }
        )

    async def model_metadata(self, request: Request) -> Response:
        rt = self.gateway.model_info(request.params["model"], request.params.get("version"))
        info = rt.backend.info
        return json_response(
            {
                "name": request.params["model"],
                "versions": [info.version],
                "platform": info.platform,
                "inputs": [_spec(s) for s in info.inputs],
                "outputs": [_spec(s) for s in (*info.outputs, SIGNAL_SPEC)],
            }
        )

    async def model_ready(self, request: Request) -> Response:
        self.gateway.model_info(request.params["model"], request.params.get("version"))
        return json_response({"name": request.params["model"], "ready": True})

    # ---- inference -------------------------------------------------------------------------
    async def infer(self, request: Request) -> Response:
        gw = self.gateway
        h = request.headers
        target = gw.resolve(
            request.params["model"], request.params.get("version"), h.get("seldon-model")
        )
        spec_model = target.model or (target.experiment.fallback if target.experiment else "")
        spec = gw.models[spec_model].backend.info.inputs[0]
        req = parse_infer_request(request.body, h.get("inference-header-content-length"), spec)
        request_id = req.id or h.get("x-request-id") or f"{self._ids.getrandbits(128):032x}"
        served = await gw.infer(target, req.array, request_id, h.get("x-seldon-route"), h)
        outputs = [
            OutputTensor(
                "probability_up", "FP32", (len(served.probabilities), 1), served.probabilities
            ),
            OutputTensor("signal", "BYTES", (len(served.signals), 1), served.signals),
        ]
        if req.requested_outputs is not None:
            known = {o.name for o in outputs}
            unknown = [n for n in req.requested_outputs if n not in known]
            if unknown:
                raise ProtocolError(f"unknown output(s) {unknown}; this model has {sorted(known)}")
            outputs = [o for o in outputs if o.name in req.requested_outputs]
        route = format_route(served.model, served.version)
        header: dict[str, Any] = {
            "model_name": f"{served.model}_{served.version}",
            "model_version": served.version,
            "id": request_id,
            "parameters": {"assignment": served.assignment},
        }
        if served.fallback_reason:
            header["parameters"]["fallback_reason"] = served.fallback_reason
        body, head_len = encode_response(header, outputs, req.binary_outputs, req.binary_all)
        extra = [
            (b"x-seldon-route", route.encode()),
            (b"x-request-id", request_id.encode("latin-1", "replace")),
        ]
        if head_len is not None:
            extra.append((b"inference-header-content-length", str(head_len).encode()))
            return Response(200, body, b"application/octet-stream", extra)
        return Response(200, body, headers=extra)

    # ---- experiments -----------------------------------------------------------------------
    async def list_experiments(self, request: Request) -> Response:
        return json_response(
            {"experiments": [await self.gateway.status(n) for n in self.gateway.experiments]}
        )

    async def experiment_status(self, request: Request) -> Response:
        name = request.params["experiment"]
        doc = await self.gateway.status(name)
        doc["rollout"] = self.controller.status(name) if self.controller else None
        return json_response(doc)

    async def control(self, request: Request) -> Response:
        """POST …/promote | rollback | pause | resume (admin token)."""
        actions = {
            "promote": Action.PROMOTE,
            "rollback": Action.ROLLBACK,
            "pause": Action.PAUSE,
            "resume": Action.HOLD,
        }
        action = actions.get(request.params["action"])
        if action is None:
            raise ProtocolError(
                f"unknown action '{request.params['action']}'; use {', '.join(actions)}", 404
            )
        self._require_token(request)
        name = request.params["experiment"]
        self.gateway.experiment(name)
        if self.controller is None:
            raise ProtocolError("rollout control is not running on this gateway", 503)
        await self.controller.manual(name, action)
        return await self.experiment_status(request)

    async def experiment_summary(self, request: Request) -> Response:
        name = request.params["experiment"]
        self.gateway.experiment(name)  # 404 for an unknown experiment
        if self.analyzer is None:
            raise ProtocolError("live analysis is not running on this gateway", 503)
        return json_response(await self.analyzer.summary(name))

    async def set_faults(self, request: Request) -> Response:
        """Inject (or clear, with all-off values) faults for one model: drills and demos."""
        self._require_token(request)
        model = request.params["model"]
        if model not in self.gateway.models:
            raise NotFoundError(f"unknown model '{model}'")
        if self.gateway.faults is None:
            raise ProtocolError("fault injection is disabled on this gateway", 409)
        try:
            settings = FaultSettings.model_validate(_json_object(request.body))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
            )
            raise ProtocolError(f"invalid faults: {problems}") from None
        self.gateway.faults.set(model, settings)
        await self.gateway.events.record_admin(
            AdminEvent(
                self.gateway.clock(), "faults", None, {"model": model, **settings.model_dump()}
            )
        )
        return json_response({"model": model, "faults": settings.model_dump()})

    async def set_weights(self, request: Request) -> Response:
        self._require_token(request)
        doc = _json_object(request.body)
        weights = doc.get("weights")
        if not isinstance(weights, dict) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in weights.values()
        ):
            raise ProtocolError('body must be {"weights": {"<model>": <number>, ...}}')
        new = await self.gateway.set_weights(request.params["experiment"], weights)
        return json_response({"name": request.params["experiment"], "weights": new})

    async def feedback(self, request: Request) -> Response:
        # A request relayed by a proxy on this machine is not a loopback client: the server does
        # not rewrite the peer address from X-Forwarded-For, so look for the proxy's headers.
        proxied = "x-forwarded-for" in request.headers or "forwarded" in request.headers
        loopback = not proxied and (request.client or "").startswith(LOOPBACK)
        if not (self.open_feedback_on_loopback and loopback):
            self._require_token(request)
        doc = _json_any(request.body)
        items_doc = doc.get("feedback") if isinstance(doc, dict) else doc
        if not isinstance(items_doc, list) or not items_doc:
            raise ProtocolError('body must be {"feedback": [{"id": "...", "truth": 0|1}, ...]}')
        items = []
        for raw in items_doc:
            if not isinstance(raw, dict):
                raise ProtocolError("each feedback item must be an object with id and truth")
            items.append(FeedbackItem(raw.get("id"), raw.get("truth"), raw.get("reward")))  # type: ignore[arg-type]
        result = await self.gateway.feedback(request.params["experiment"], items)
        return json_response(
            {
                "accepted": result.accepted,
                "unknown": list(result.unknown),
                "duplicate": list(result.duplicate),
                "invalid": list(result.invalid),
            }
        )

    async def openapi(self, request: Request) -> Response:
        return json_response(self._openapi)

    async def metrics(self, request: Request) -> Response:
        return Response(200, generate_latest(self.registry), CONTENT_TYPE_LATEST.encode())

    async def routing(self, request: Request) -> Response:
        """Weights and faults in force here: what follower workers copy from the primary."""
        return json_response(routing_snapshot(self.gateway))

    async def dashboard(self, request: Request) -> Response:
        return dashboard_response()

    def _require_token(self, request: Request) -> None:
        if self.admin_token is None:
            raise ProtocolError("admin API disabled: start the server with an admin token", 403)
        auth = request.headers.get("authorization", "")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), self.admin_token.encode()
        ):
            raise ProtocolError("missing or wrong bearer token", 401)


def _spec(s: TensorSpec) -> dict[str, Any]:
    return {"name": s.name, "datatype": s.datatype, "shape": list(s.shape)}


def _json_any(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"body is not valid JSON: {exc}") from None


def _json_object(body: bytes) -> dict[str, Any]:
    doc = _json_any(body)
    if not isinstance(doc, dict):
        raise ProtocolError("body must be a JSON object")
    return doc
