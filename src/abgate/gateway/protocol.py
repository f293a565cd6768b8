"""Open Inference Protocol (V2) request parsing and response encoding, JSON and binary.

The binary tensor extension (Triton's, used by ``tritonclient`` by default): the header
``Inference-Header-Content-Length: N`` says the first N bytes of the body are the JSON request;
raw little-endian tensor bytes follow in input order, each input carrying
``"parameters": {"binary_data_size": K}``. Responses are binary when the request asks with
``parameters.binary_data_output`` or per output with ``parameters.binary_data``.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from abgate.errors import ProtocolError

_NP_TYPES: dict[str, np.dtype[Any]] = {
    "FP32": np.dtype("<f4"),
    "FP64": np.dtype("<f8"),
    "FP16": np.dtype("<f2"),
    "INT64": np.dtype("<i8"),
    "INT32": np.dtype("<i4"),
}
MAX_ELEMENTS = 4_000_000  # no tensor of ours is larger; refuses shapes that would exhaust memory


@dataclass(frozen=True, slots=True)
class TensorSpec:
    name: str
    datatype: str
    shape: tuple[int, ...]  # -1 = any (the batch axis)


@dataclass(slots=True)
class InferRequest:
    """A parsed V2 request: the single model input as float32, plus what the client asked for."""

    id: str | None
    parameters: dict[str, Any]
    array: npt.NDArray[np.float32]
    requested_outputs: list[str] | None
    binary_outputs: set[str] = field(default_factory=set)
    binary_all: bool = False


def parse_infer_request(body: bytes, header_length: str | None, spec: TensorSpec) -> InferRequest:
    """Validate ``body`` against the model's one input ``spec``; errors are 400s that say why."""
    if header_length is not None:
        try:
            n = int(header_length)
        except ValueError:
            raise ProtocolError("Inference-Header-Content-Length must be an integer") from None
        if n < 0 or n > len(body):
            raise ProtocolError(
                f"Inference-Header-Content-Length {n} is outside the body ({len(body)} bytes)"
            )
        json_part, binary = body[:n], memoryview(body)[n:]
    else:
        json_part, binary = body, memoryview(b"")
    try:
        doc = orjson.loads(json_part)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ProtocolError("request body must be a JSON object with 'inputs'")
    inputs = doc.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise ProtocolError("request needs a non-empty 'inputs' list")
    if len(inputs) != 1:
        raise ProtocolError(f"model takes exactly one input '{spec.name}', got {len(inputs)}")
    req_id = doc.get("id")
    if req_id is not None and not isinstance(req_id, str):
        raise ProtocolError("'id' must be a string")
    params = doc.get("parameters") or {}
    if not isinstance(params, dict):
        raise ProtocolError("'parameters' must be an object")
    array = _parse_input(inputs[0], binary, spec)
    requested, binary_outputs = _parse_outputs(doc.get("outputs"))
    return InferRequest(
        id=req_id,
        parameters=params,
        array=array,
        requested_outputs=requested,
        binary_outputs=binary_outputs,
        binary_all=bool(params.get("binary_data_output", False)),
    )


def _parse_input(tensor: Any, binary: memoryview, spec: TensorSpec) -> npt.NDArray[np.float32]:
    if not isinstance(tensor, dict):
        raise ProtocolError("each input must be an object with name, shape, datatype, data")
    name = tensor.get("name")
    if name != spec.name:
        raise ProtocolError(f"unknown input {name!r}; this model's input is '{spec.name}'")
    shape = tensor.get("shape")
    if (
        not isinstance(shape, list)
        or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape)
        or any(d < 0 for d in shape)
    ):
        raise ProtocolError(f"input '{name}': shape must be a list of non-negative integers")
    if len(shape) != len(spec.shape) or any(
        want != -1 and got != want for got, want in zip(shape, spec.shape, strict=True)
    ):
        want_text = "[" + ", ".join("batch" if d == -1 else str(d) for d in spec.shape) + "]"
        raise ProtocolError(f"input '{name}': shape {shape} does not match {want_text}")
    count = math.prod(shape)
    if count == 0:
        raise ProtocolError(f"input '{name}': empty tensor (shape {shape})")
    if count > MAX_ELEMENTS:
        raise ProtocolError(f"input '{name}': {count} elements exceed the limit {MAX_ELEMENTS}")
    datatype = tensor.get("datatype")
    dtype = _NP_TYPES.get(datatype) if isinstance(datatype, str) else None
    if dtype is None or datatype not in ("FP32", "FP64", "FP16"):
        raise ProtocolError(
            f"input '{name}': datatype {datatype!r} not supported; send FP32 (or FP64, FP16)"
        )
    params = tensor.get("parameters") or {}
    size = params.get("binary_data_size") if isinstance(params, dict) else None
    if size is not None:
        if not isinstance(size, int) or size != count * dtype.itemsize:
            raise ProtocolError(
                f"input '{name}': binary_data_size {size} != {count} × {dtype.itemsize} bytes"
            )
        if len(binary) < size:
            raise ProtocolError(f"input '{name}': body has {len(binary)} binary bytes, need {size}")
        arr = np.frombuffer(binary[:size], dtype=dtype)
    else:
        data = tensor.get("data")
        if data is None:
            raise ProtocolError(f"input '{name}': no 'data' and no binary_data_size")
        try:
            arr = np.asarray(data, dtype=np.float64)
        except (ValueError, TypeError):
            raise ProtocolError(
                f"input '{name}': data must be numbers (flat or nested lists)"
            ) from None
        if arr.size != count:
            raise ProtocolError(
                f"input '{name}': {arr.size} values do not fill shape {shape} ({count} values)"
            )
    out = arr.reshape(shape).astype(np.float32, copy=False)
    if not np.isfinite(out).all():
        raise ProtocolError(f"input '{name}': NaN or infinite values are not allowed")
    return out


def _parse_outputs(outputs: Any) -> tuple[list[str] | None, set[str]]:
    if outputs is None:
        return None, set()
    if not isinstance(outputs, list):
        raise ProtocolError("'outputs' must be a list")
    names, binary = [], set()
    for item in outputs:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ProtocolError("each requested output needs a 'name'")
        names.append(item["name"])
        params = item.get("parameters") or {}
        if isinstance(params, dict) and params.get("binary_data"):
            binary.add(item["name"])
    return names, binary


@dataclass(frozen=True, slots=True)
class OutputTensor:
    name: str
    datatype: str
    shape: tuple[int, ...]
    values: npt.NDArray[Any] | list[str]


def encode_response(
    header: dict[str, Any], outputs: list[OutputTensor], binary: set[str], binary_all: bool
) -> tuple[bytes, int | None]:
    """Body bytes and, for binary responses, the JSON header length."""
    tensors = []
    chunks: list[bytes] = []
    for out in outputs:
        entry: dict[str, Any] = {"name": out.name, "datatype": out.datatype, "shape": out.shape}
        if binary_all or out.name in binary:
            raw = _to_bytes(out)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        elif out.datatype == "BYTES":
            entry["data"] = list(out.values)
        else:
            entry["data"] = np.asarray(out.values).reshape(-1).tolist()
        tensors.append(entry)
    doc = dict(header, outputs=tensors)
    head = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    if not chunks:
        return head, None
    return head + b"".join(chunks), len(head)


def _to_bytes(out: OutputTensor) -> bytes:
    if out.datatype == "BYTES":
        parts = []
        for s in out.values:
            b = s.encode() if isinstance(s, str) else bytes(s)
            parts.append(struct.pack("<I", len(b)) + b)
        return b"".join(parts)
    return np.ascontiguousarray(out.values, dtype=_NP_TYPES[out.datatype]).tobytes()
