"""Schemathesis against the gateway's own OpenAPI document, over real HTTP: no client mistake
may produce a 5xx, a crash or a hang (503 only where the API documents it: no model could serve).

Driven through schemathesis' strategies with hypothesis directly (its pytest plugin does not
support pytest 9 yet)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis not installed")

from ..helpers import serve  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gateway(smoke_registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    db = tmp_path_factory.mktemp("fuzz") / "events.db"
    with serve(smoke_registry, db, "--durability", "relaxed") as (proc, url):
        yield url
        assert proc.poll() is None, "the gateway died under fuzzing"


def test_no_server_errors_on_any_operation(gateway: str) -> None:
    schema = schemathesis.openapi.from_url(f"{gateway}/openapi.json")
    checked: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            # With the admin token (the helper starts the gateway with token "t"), so the
            # admin operations are fuzzed past authentication too.
            response = case.call(timeout=10, headers={"authorization": "Bearer t"})
            status = response.status_code
            assert status < 500 or status == 503, f"{case.method} {case.formatted_path}: {status}"
            if status >= 400:
                assert "error" in response.json(), response.text[:200]

        check()
        checked.append(operation.label)
        assert httpx.get(f"{gateway}/v2/health/live", timeout=5).status_code == 200
    assert len(checked) >= 15, checked
