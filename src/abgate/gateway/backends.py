"""Model backends behind one interface: in-process ONNX Runtime, or a remote V2 server.

A backend turns a float32 ``ohlcv`` batch into ``probability_up`` (float32 ``[batch]``). Failures
are :class:`BackendError` with a short machine-readable ``reason`` (``error``, ``timeout``,
``bad_response``) that the router records when it falls back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol

import httpx
import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import orjson

from abgate.errors import ModelError
from abgate.gateway.batching import MicroBatcher
from abgate.gateway.protocol import TensorSpec
from abgate.registry.store import ModelVersion

INPUT_NAME = "ohlcv"
OUTPUT_NAME = "probability_up"


class BackendError(Exception):
    """A backend could not produce a prediction (caught by the router, never shown raw)."""

    def __init__(self, message: str, reason: str = "error"):
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class BackendInfo:
    name: str  # model name as the gateway exposes it
    version: str
    platform: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    sha256: str | None = None  # of the ONNX file, as in the model card (None when remote)

    @property
    def route_name(self) -> str:
        return f"{self.name}_{self.version}"


class Backend(Protocol):
    info: BackendInfo
    is_local: bool  # in-process: answers without suspending, so no timeout task is needed

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def predict(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]: ...


class OnnxBackend:
    """A registry model run in-process by ONNX Runtime (one intra-op thread: requests are small,
    and threads would fight the event loop for two cores)."""

    is_local = True

    def __init__(
        self,
        mv: ModelVersion,
        name: str | None = None,
        max_batch_size: int = 64,
        batch_wait_turns: int = 2,
    ):
        mv.verify()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                str(mv.onnx_path), opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"{mv.onnx_path}: ONNX Runtime cannot load it ({exc})") from exc
        (inp,) = mv.card.inputs
        self.info = BackendInfo(
            name=name or mv.name,
            version=str(mv.version),
            platform="onnxruntime",
            inputs=(TensorSpec(inp.name, inp.datatype, tuple(inp.shape)),),
            outputs=tuple(TensorSpec(o.name, o.datatype, tuple(o.shape)) for o in mv.card.outputs),
            sha256=mv.card.onnx_sha256,
        )

        self._batcher = None
        if max_batch_size > 1:
            self._batcher = MicroBatcher(self._run, max_batch_size, batch_wait_turns)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _run(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        # Inline, not in a thread: a call costs tens of µs, less than a thread hop.
        try:
            (out,) = self._session.run([OUTPUT_NAME], {INPUT_NAME: batch})
        except Exception as exc:
            raise BackendError(f"onnxruntime failed: {exc}") from exc
        return np.asarray(out, dtype=np.float32).reshape(-1)

    async def predict(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if self._batcher is None:
            return self._run(batch)
        return await self._batcher.predict(batch)


class RemoteV2Backend:
    """A model on another Open Inference Protocol server (MLServer, Triton, KServe, Seldon)."""

    is_local = False

    def __init__(
        self,
        name: str,
        url: str,
        remote_name: str,
        remote_version: str | None,
        timeout_s: float,
        window: int = 40,
        client: httpx.AsyncClient | None = None,
    ):
        base = url.rstrip("/")
        path = f"/v2/models/{remote_name}"
        if remote_version:
            path += f"/versions/{remote_version}"
        self._infer_url = f"{base}{path}/infer"
        self._timeout = timeout_s
        self._client = client
        self._owns_client = client is None
        self.info = BackendInfo(
            name=name,
            version=remote_version or "1",
            platform=f"remote:{base}",
            inputs=(TensorSpec(INPUT_NAME, "FP32", (-1, window, 5)),),
            outputs=(TensorSpec(OUTPUT_NAME, "FP32", (-1, 1)),),
        )

    async def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=64)
            )

    async def close(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
        self._client = None

    async def predict(self, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        if self._client is None:
            raise BackendError("backend not started")
        body = orjson.dumps(
            {
                "inputs": [
                    {
                        "name": INPUT_NAME,
                        "shape": list(batch.shape),
                        "datatype": "FP32",
                        "data": batch.reshape(-1),
                    }
                ]
            },
            option=orjson.OPT_SERIALIZE_NUMPY,
        )
        try:
            resp = await asyncio.wait_for(
                self._client.post(
                    self._infer_url, content=body, headers={"content-type": "application/json"}
                ),
                self._timeout,
            )
        except TimeoutError:
            raise BackendError(f"{self._infer_url} timed out", reason="timeout") from None
        except httpx.HTTPError as exc:
            raise BackendError(f"{self._infer_url}: {exc!r}", reason="unreachable") from exc
        if resp.status_code != 200:
            raise BackendError(
                f"{self._infer_url} answered {resp.status_code}: {resp.text[:200]}",
                reason=f"http_{resp.status_code}",
            )
        try:
            doc = orjson.loads(resp.content)
            out = next(o for o in doc["outputs"] if o["name"] == OUTPUT_NAME)
            values = np.asarray(out["data"], dtype=np.float32).reshape(-1)
        except (orjson.JSONDecodeError, KeyError, StopIteration, TypeError, ValueError) as exc:
            raise BackendError(
                f"{self._infer_url}: unexpected response ({exc})", reason="bad_response"
            ) from exc
        if len(values) != batch.shape[0]:
            raise BackendError(
                f"{self._infer_url}: {len(values)} outputs for {batch.shape[0]} inputs",
                reason="bad_response",
            )
        return values
