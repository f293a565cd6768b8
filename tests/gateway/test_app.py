"""The V2 surface in-process: health, metadata, inference, addressing, split, sticky, bad input."""

from __future__ import annotations

import asyncio
import struct
from collections import Counter
from typing import Any

import numpy as np
import onnxruntime as ort
import orjson
import pytest
from scipy.stats import chisquare

from abgate.registry.store import Registry

from .conftest import EXPERIMENT, infer_body

URL = "/v2/models/baseline-predictor/infer"


async def test_health_and_server_metadata(make_app: Any) -> None:
    async with make_app() as (_, client):
        assert (await client.get("/v2/health/live")).json() == {"live": True}
        assert (await client.get("/v2/health/ready")).status_code == 200
        meta = (await client.get("/v2")).json()
        assert meta["name"] == "abgate" and "binary_tensor_data" in meta["extensions"]


async def test_model_metadata_and_ready(make_app: Any) -> None:
    async with make_app() as (_, client):
        for path in ("/v2/models/enhanced-predictor", "/v2/models/enhanced-predictor/versions/1"):
            meta = (await client.get(path)).json()
            assert meta["inputs"] == [{"name": "ohlcv", "datatype": "FP32", "shape": [-1, 40, 5]}]
            assert [o["name"] for o in meta["outputs"]] == ["probability_up", "signal"]
            assert meta["versions"] == ["1"]
        ready = await client.get("/v2/models/baseline-predictor/ready")
        assert ready.json() == {"name": "baseline-predictor", "ready": True}
        assert (await client.get("/v2/models/nope")).status_code == 404
        assert (await client.get("/v2/models/enhanced-predictor/versions/7")).status_code == 404


async def test_infer_matches_onnx_and_names_the_variant(
    make_app: Any, windows: np.ndarray, smoke_registry: Any
) -> None:
    async with make_app() as (_, client):
        r = await client.post(URL, json=infer_body(windows[0]), headers={"x-request-id": "abc"})
        assert r.status_code == 200
        doc = r.json()
        served = doc["model_name"].rsplit("_", 1)[0]
        assert r.headers["x-seldon-route"] == f":{doc['model_name']}:"
        assert (
            doc["model_version"] == "1"
            and doc["id"] == "abc"
            and r.headers["x-request-id"] == "abc"
        )
        prob = doc["outputs"][0]
        assert prob["name"] == "probability_up" and prob["shape"] == [1, 1]
        mv = Registry(smoke_registry).get(served)
        want = ort.InferenceSession(str(mv.onnx_path)).run(None, {"ohlcv": windows[:1]})[0]
        assert prob["data"][0] == pytest.approx(float(want[0, 0]), abs=1e-6)
        signal = doc["outputs"][1]
        assert signal["datatype"] == "BYTES" and signal["data"][0] in ("BUY", "SELL", "HOLD")


async def test_body_id_is_honoured_and_ids_are_generated(
    make_app: Any, windows: np.ndarray
) -> None:
    async with make_app() as (_, client):
        body = infer_body(windows[0]) | {"id": "body-id"}
        assert (await client.post(URL, json=body)).json()["id"] == "body-id"
        generated = (await client.post(URL, json=infer_body(windows[0]))).json()["id"]
        assert len(generated) == 32


async def test_split_follows_weights(make_app: Any, windows: np.ndarray) -> None:
    async with make_app(seed=3) as (_, client):
        body = infer_body(windows[0])
        n = 1000
        rs = await asyncio.gather(*(client.post(URL, json=body) for _ in range(n)))
        counts = Counter(r.headers["x-seldon-route"] for r in rs)
        observed = [counts[":baseline-predictor_1:"], counts[":enhanced-predictor_1:"]]
        assert sum(observed) == n
        assert chisquare(observed, [0.7 * n, 0.3 * n]).pvalue > 0.001


async def test_experiment_header_and_direct_calls(make_app: Any, windows: np.ndarray) -> None:
    async with make_app(seed=1) as (_, client):
        body = infer_body(windows[0])
        via_header = await asyncio.gather(
            *(
                client.post(
                    "/v2/models/anything/infer",
                    json=body,
                    headers={"seldon-model": f"{EXPERIMENT}.experiment"},
                )
                for _ in range(60)
            )
        )
        assert {r.headers["x-seldon-route"] for r in via_header} == {
            ":baseline-predictor_1:",
            ":enhanced-predictor_1:",
        }
        direct = await client.post("/v2/models/enhanced-predictor/infer", json=body)
        assert direct.json()["parameters"]["assignment"] == "direct"
        pinned = await client.post("/v2/models/baseline-predictor/versions/1/infer", json=body)
        assert pinned.json()["parameters"]["assignment"] == "direct"
        unknown = await client.post(URL, json=body, headers={"seldon-model": "nope.experiment"})
        assert unknown.status_code == 404 and "unknown experiment 'nope'" in unknown.json()["error"]


async def test_sticky_route_keeps_the_variant(make_app: Any, windows: np.ndarray) -> None:
    async with make_app(seed=5) as (_, client):
        body = infer_body(windows[0])
        for route in (":enhanced-predictor_1:", ":baseline-predictor_1:"):
            rs = await asyncio.gather(
                *(client.post(URL, json=body, headers={"x-seldon-route": route}) for _ in range(30))
            )
            assert {r.headers["x-seldon-route"] for r in rs} == {route}
            assert {r.json()["parameters"]["assignment"] for r in rs} == {"sticky"}


async def test_hash_assignment_is_stable_across_restarts(
    make_app: Any, windows: np.ndarray
) -> None:
    body = infer_body(windows[0])
    users = [f"acct-{i}" for i in range(40)]
    seen = []
    for seed in (1, 2):  # a different RNG seed: only the unit hash may decide
        async with make_app(seed=seed, db=f"e{seed}.db") as (_, client):
            routes = []
            for user in users:
                r = await client.post(URL, json=body, headers={"x-user-id": user})
                assert r.json()["parameters"]["assignment"] == "hash"
                routes.append(r.headers["x-seldon-route"])
            seen.append(routes)
    assert seen[0] == seen[1]
    assert len(set(seen[0])) == 2  # both variants get users


async def test_binary_tensor_extension(make_app: Any, windows: np.ndarray) -> None:
    batch = np.ascontiguousarray(windows[:3])
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "ohlcv",
                    "shape": [3, 40, 5],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": batch.nbytes},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    )
    async with make_app() as (_, client):
        r = await client.post(
            "/v2/models/enhanced-predictor/infer",
            content=header + batch.tobytes(),
            headers={
                "inference-header-content-length": str(len(header)),
                "content-type": "application/octet-stream",
            },
        )
        assert r.status_code == 200
        n = int(r.headers["inference-header-content-length"])
        doc = orjson.loads(r.content[:n])
        sizes = [o["parameters"]["binary_data_size"] for o in doc["outputs"]]
        probs = np.frombuffer(r.content[n : n + sizes[0]], dtype="<f4")
        json_r = await client.post(
            "/v2/models/enhanced-predictor/infer",
            json={
                "inputs": [
                    {
                        "name": "ohlcv",
                        "shape": [3, 40, 5],
                        "datatype": "FP32",
                        "data": batch.reshape(-1).tolist(),
                    }
                ]
            },
        )
        np.testing.assert_allclose(
            probs, [row[0] for row in np.reshape(json_r.json()["outputs"][0]["data"], (3, 1))]
        )
        raw = r.content[n + sizes[0] :]
        length = struct.unpack("<I", raw[:4])[0]
        assert raw[4 : 4 + length].decode() in ("BUY", "SELL", "HOLD")


async def test_requested_outputs(make_app: Any, windows: np.ndarray) -> None:
    async with make_app() as (_, client):
        body = infer_body(windows[0]) | {"outputs": [{"name": "signal"}]}
        doc = (await client.post(URL, json=body)).json()
        assert [o["name"] for o in doc["outputs"]] == ["signal"]
        body = infer_body(windows[0]) | {"outputs": [{"name": "nope"}]}
        r = await client.post(URL, json=body)
        assert r.status_code == 400 and "unknown output" in r.json()["error"]


def _bad_inputs(window: np.ndarray) -> list[tuple[Any, int, str]]:
    good = infer_body(window)
    inp = good["inputs"][0]
    nan = list(inp["data"])
    nan[3] = float("nan")
    return [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 400, "JSON object"),
        ({"inputs": []}, 400, "non-empty 'inputs'"),
        ({"inputs": [inp | {"name": "x"}]}, 400, "unknown input 'x'"),
        ({"inputs": [inp | {"shape": [1, 30, 5]}]}, 400, "does not match [batch, 40, 5]"),
        ({"inputs": [inp | {"shape": [1, 40, -5]}]}, 400, "non-negative integers"),
        ({"inputs": [inp | {"shape": [10**9, 40, 5]}]}, 400, "exceed the limit"),
        ({"inputs": [inp | {"datatype": "INT64"}]}, 400, "datatype 'INT64' not supported"),
        ({"inputs": [inp | {"datatype": "BYTES"}]}, 400, "not supported"),
        ({"inputs": [inp | {"data": inp["data"][:-1]}]}, 400, "do not fill shape"),
        ({"inputs": [inp | {"data": ["a"] * 200}]}, 400, "must be numbers"),
        ({"inputs": [inp | {"data": None}]}, 400, "no 'data'"),
        (
            orjson.dumps(
                {"inputs": [inp | {"data": nan}]}, option=orjson.OPT_SERIALIZE_NUMPY
            ).replace(b"null", b"NaN"),
            400,
            "not valid JSON",
        ),
        ({"inputs": [inp, inp]}, 400, "exactly one input"),
        ({"inputs": [inp], "id": 5}, 400, "'id' must be a string"),
        (b"[" * 5000 + b"]" * 5000, 400, "not valid JSON"),
    ]


async def test_bad_input_is_a_clear_4xx(make_app: Any, windows: np.ndarray) -> None:
    async with make_app() as (_, client):
        for body, status, fragment in _bad_inputs(windows[0]):
            if isinstance(body, bytes):
                r = await client.post(
                    URL, content=body, headers={"content-type": "application/json"}
                )
            else:
                r = await client.post(URL, json=body)
            assert r.status_code == status, (body, r.text)
            assert fragment in r.json()["error"], r.json()
        # the server is still fine
        assert (await client.post(URL, json=infer_body(windows[0]))).status_code == 200


async def test_nan_in_binary_payload_is_rejected(make_app: Any, windows: np.ndarray) -> None:
    batch = np.ascontiguousarray(windows[:1]).copy()
    batch[0, 5, 2] = np.inf
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "ohlcv",
                    "shape": [1, 40, 5],
                    "datatype": "FP32",
                    "parameters": {"binary_data_size": batch.nbytes},
                }
            ]
        }
    )
    async with make_app() as (_, client):
        r = await client.post(
            URL,
            content=header + batch.tobytes(),
            headers={"inference-header-content-length": str(len(header))},
        )
        assert r.status_code == 400 and "NaN or infinite" in r.json()["error"]
        r = await client.post(
            URL,
            content=header + batch.tobytes()[:100],
            headers={"inference-header-content-length": str(len(header))},
        )
        assert r.status_code == 400 and "binary bytes" in r.json()["error"]
        r = await client.post(URL, content=header, headers={"inference-header-content-length": "x"})
        assert r.status_code == 400


async def test_size_type_route_and_method_errors(make_app: Any, windows: np.ndarray) -> None:
    async with make_app(max_body_bytes=10_000) as (_, client):
        big = await client.post(URL, json=infer_body(windows[0]) | {"pad": "x" * 20_000})
        assert big.status_code == 413 and "exceeds the limit" in big.json()["error"]
        text = await client.post(URL, content=b"hello", headers={"content-type": "text/plain"})
        assert text.status_code == 415
        assert (await client.get("/nope")).status_code == 404
        wrong = await client.get(URL)
        assert wrong.status_code == 405 and "not allowed" in wrong.json()["error"]


async def test_metric_values_match_responses(make_app: Any, windows: np.ndarray) -> None:
    async with make_app(seed=12) as (app, client):
        rs = await asyncio.gather(
            *(client.post(URL, json=infer_body(windows[0])) for _ in range(50))
        )
        await client.post(URL, json={"inputs": []})  # a 400 is not an inference
        served = Counter(r.json()["model_name"] for r in rs)
        text = (await client.get("/metrics")).text
        reg = app.registry
        for internal, count in served.items():
            model = internal.rsplit("_", 1)[0]
            labels = {"experiment": EXPERIMENT, "model": model, "code": "200"}
            assert reg.get_sample_value("abgate_requests_total", labels) == count
            seldon = {
                "model": EXPERIMENT,
                "model_internal": internal,
                "code": "200",
                "method_type": "rest",
                "server": "abgate",
                "server_replica": "0",
            }
            assert reg.get_sample_value("seldon_model_infer_total", seldon) == count
            assert reg.get_sample_value("seldon_model_infer_seconds_total", seldon) > 0
            hist = {"experiment": EXPERIMENT, "model": model}
            assert reg.get_sample_value("abgate_request_duration_seconds_count", hist) == count
            how = {"experiment": EXPERIMENT, "model": model, "how": "split"}
            assert reg.get_sample_value("abgate_assignments_total", how) == count
        assert "abgate_experiment_weight" in text and "abgate_circuit_state" in text
