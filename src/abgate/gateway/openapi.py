"""The gateway's OpenAPI 3.1 description, served at ``/openapi.json`` (used by the fuzz tests
and by anyone generating a client). Hand-written to match :mod:`.app`'s route table."""

from __future__ import annotations

from typing import Any

from abgate import __version__

_ERROR = {
    "description": "Client or server error, with a message",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["error"],
                "properties": {"error": {"type": "string"}},
            }
        }
    },
}
_JSON_OK = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
_TENSOR = {
    "type": "object",
    "required": ["name", "shape", "datatype"],
    "properties": {
        "name": {"type": "string", "examples": ["ohlcv"]},
        "shape": {"type": "array", "items": {"type": "integer"}, "examples": [[1, 40, 5]]},
        "datatype": {"type": "string", "examples": ["FP32"]},
        "data": {"type": "array"},
        "parameters": {"type": "object"},
    },
}
_INFER_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["inputs"],
                "properties": {
                    "id": {"type": "string"},
                    "parameters": {"type": "object"},
                    "inputs": {"type": "array", "items": _TENSOR},
                    "outputs": {
                        "type": "array",
                        "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                    },
                },
            }
        }
    },
}
_BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _op(
    summary: str, params: list[str], body: dict[str, Any] | None = None, secured: bool = False
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [_param(p) for p in params],
        "responses": {"200": _JSON_OK, "4XX": _ERROR, "503": _ERROR},
    }
    if body is not None:
        op["requestBody"] = body
    if secured:
        op["security"] = _BEARER
    return op


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def openapi_document() -> dict[str, Any]:
    m, v, e = "model", "version", "experiment"
    feedback = _json_body(
        {
            "type": "object",
            "required": ["feedback"],
            "properties": {
                "feedback": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "truth"],
                        "properties": {
                            "id": {"type": "string"},
                            "truth": {"type": "integer", "enum": [0, 1]},
                            "reward": {"type": "number"},
                        },
                    },
                }
            },
        }
    )
    weights = _json_body(
        {
            "type": "object",
            "required": ["weights"],
            "properties": {
                "weights": {"type": "object", "additionalProperties": {"type": "number"}}
            },
        }
    )
    faults = _json_body(
        {
            "type": "object",
            "properties": {
                "error_rate": {"type": "number", "minimum": 0, "maximum": 1},
                "latency_ms": {"type": "number", "minimum": 0},
                "down": {"type": "boolean"},
            },
        }
    )
    metrics_ok = {"description": "Prometheus text", "content": {"text/plain": {"schema": {}}}}
    html_ok = {"description": "HTML page", "content": {"text/html": {"schema": {}}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "abgate gateway",
            "version": __version__,
            "description": "Open Inference Protocol (V2) REST with Seldon Core v2 experiment "
            "semantics, ground-truth feedback and experiment control.",
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": {
            "/v2/health/live": {"get": _op("Liveness", [])},
            "/v2/health/ready": {"get": _op("Readiness", [])},
            "/v2": {"get": _op("Server metadata", [])},
            "/v2/models/{model}": {"get": _op("Model metadata", [m])},
            "/v2/models/{model}/versions/{version}": {"get": _op("Model metadata", [m, v])},
            "/v2/models/{model}/ready": {"get": _op("Model readiness", [m])},
            "/v2/models/{model}/versions/{version}/ready": {"get": _op("Model readiness", [m, v])},
            "/v2/models/{model}/infer": {"post": _op("Inference", [m], _INFER_BODY)},
            "/v2/models/{model}/versions/{version}/infer": {
                "post": _op("Inference", [m, v], _INFER_BODY)
            },
            "/v2/models/{model}/faults": {
                "put": _op("Inject or clear faults", [m], faults, secured=True)
            },
            "/v2/experiments": {"get": _op("List experiments", [])},
            "/v2/experiments/{experiment}": {"get": _op("Experiment status", [e])},
            "/v2/experiments/{experiment}/summary": {"get": _op("Live analysis", [e])},
            "/v2/experiments/{experiment}/weights": {
                "put": _op("Set weights", [e], weights, secured=True)
            },
            "/v2/experiments/{experiment}/feedback": {
                "post": _op("Ground truth for earlier predictions", [e], feedback)
            },
            "/v2/experiments/{experiment}/{action}": {
                "post": _op("promote | rollback | pause | resume", [e, "action"], secured=True)
            },
            "/metrics": {
                "get": {"summary": "Prometheus metrics", "responses": {"200": metrics_ok}}
            },
            "/dashboard": {"get": {"summary": "Live dashboard", "responses": {"200": html_ok}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": _JSON_OK}}},
            "/v2/internal/routing": {
                "get": {
                    "summary": "Weights and faults in force (what follower workers copy)",
                    "responses": {"200": _JSON_OK},
                }
            },
        },
    }
