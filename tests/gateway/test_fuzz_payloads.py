"""Hypothesis-generated V2 payloads and raw bytes against a real gateway over loopback: every
answer is a clear 4xx or a 200, and the server stays up."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

URL = "/v2/models/baseline-predictor/infer"
JSON = {"content-type": "application/json"}

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)
shapes = st.lists(st.integers(min_value=-3, max_value=2**40), min_size=0, max_size=5)
tensors = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["ohlcv", "x", ""]),
        "shape": st.one_of(shapes, json_values),
        "datatype": st.sampled_from(["FP32", "FP64", "FP16", "INT64", "BYTES", "BOOL", "fp32", ""]),
    },
    optional={
        "data": st.one_of(
            st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=250),
            st.lists(st.text(max_size=3), max_size=5),
            json_values,
        ),
        "parameters": st.one_of(
            st.fixed_dictionaries({"binary_data_size": st.integers(-5, 10_000)}), json_values
        ),
    },
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {"inputs": st.lists(tensors, max_size=3)},
        optional={"id": json_values, "parameters": json_values, "outputs": json_values},
    ),
    json_values,
)


from ..helpers import serve  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client(
    smoke_registry: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    db = tmp_path_factory.mktemp("fuzz-payloads") / "events.db"
    with serve(smoke_registry, db, "--durability", "relaxed") as (proc, url):
        with httpx.Client(base_url=url, timeout=10) as c:
            yield c
        assert proc.poll() is None, "the gateway died under fuzzing"


def _valid_body(window: np.ndarray) -> dict[str, Any]:
    return {
        "inputs": [
            {
                "name": "ohlcv",
                "shape": [1, 40, 5],
                "datatype": "FP32",
                "data": window.reshape(-1).tolist(),
            }
        ]
    }


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=bodies)
def test_generated_json_payloads_never_5xx(
    body: Any, client: httpx.Client, windows: np.ndarray
) -> None:
    # json.dumps writes NaN/Infinity literals, as a careless client would.
    raw = json.dumps(body).encode()
    r = client.post(URL, content=raw, headers={"content-type": "application/json"})
    assert r.status_code in (200, 400, 404, 413), (body, r.text)
    if r.status_code != 200:
        assert r.json()["error"]
    assert client.post(URL, json=_valid_body(windows[0])).status_code == 200


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    raw=st.binary(max_size=600),
    header=st.one_of(st.none(), st.integers(-10, 700).map(str), st.text(max_size=4)),
)
def test_raw_bytes_and_binary_headers_never_5xx(
    raw: bytes, header: str | None, client: httpx.Client
) -> None:
    headers = {"content-type": "application/octet-stream"}
    if header is not None:
        headers["inference-header-content-length"] = header
    # httpx refuses some header values before sending: then nothing reaches the server.
    with contextlib.suppress(UnicodeEncodeError, httpx.LocalProtocolError):
        r = client.post(URL, content=raw, headers=headers)
        assert r.status_code in (400, 404, 413, 415), r.text
        if r.headers.get("content-type") == "application/json":
            assert r.json()["error"]
        else:  # rejected by the HTTP parser itself, before the application (still a 400)
            assert r.status_code == 400


def test_named_hostile_inputs(client: httpx.Client, windows: np.ndarray) -> None:
    w = windows[0].reshape(-1).tolist()
    cases = {
        "huge shape, tiny data": {
            "inputs": [{"name": "ohlcv", "shape": [2**31, 40, 5], "datatype": "FP32", "data": w}]
        },
        "overflowing dim": {
            "inputs": [{"name": "ohlcv", "shape": [2**70, 40, 5], "datatype": "FP32", "data": w}]
        },
        "negative dim": {
            "inputs": [{"name": "ohlcv", "shape": [-1, 40, 5], "datatype": "FP32", "data": w}]
        },
        "bool shape": {
            "inputs": [{"name": "ohlcv", "shape": [True, 40, 5], "datatype": "FP32", "data": w}]
        },
        "infinite": {
            "inputs": [
                {"name": "ohlcv", "shape": [1, 40, 5], "datatype": "FP32", "data": [math.inf] * 200}
            ]
        },
        "bytes input": {
            "inputs": [{"name": "ohlcv", "shape": [1], "datatype": "BYTES", "data": ["\udcff"]}]
        },
        "nested data": {
            "inputs": [
                {"name": "ohlcv", "shape": [1, 40, 5], "datatype": "FP32", "data": [[w[:5]] * 40]}
            ]
        },
    }

    for name, body in cases.items():
        r = client.post(URL, content=json.dumps(body).encode(), headers=JSON)
        if name == "nested data":
            assert r.status_code == 200, r.text  # nested lists are valid V2
        else:
            assert r.status_code == 400, (name, r.text)
    deep = b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert client.post(URL, content=deep, headers=JSON).status_code == 400
    bad_utf8 = b'{"inputs": [{"name": "\xff\xfe", "shape": [1], "datatype": "BYTES"}]}'
    r = client.post(URL, content=bad_utf8, headers=JSON)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
