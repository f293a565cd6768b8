"""The built-in dashboard: served in-process as one self-contained page, and for real in headless
Chromium against a gateway under load (Debian's ``chromium`` driven by Playwright for Python)."""

from __future__ import annotations

import base64
import hashlib
import random
import re
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from abgate.gateway.dashboard import POLL_MS, render_page
from abgate.registry.store import Registry

from .conftest import EXPERIMENT, infer_body
from .test_server_real import serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / ".pytest_artifacts"
MODELS = ("baseline-predictor", "enhanced-predictor")


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


async def test_page_is_served_as_html_with_a_strict_policy(make_app: Callable[..., Any]) -> None:
    async with make_app() as (_, client):
        r = await client.get("/dashboard")
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/html; charset=utf-8"
        assert r.text.lower().startswith("<!doctype html>")
        csp = r.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "connect-src 'self'" in csp
        assert (await client.post("/dashboard")).status_code == 405


def test_page_is_self_contained() -> None:
    page, _ = render_page()
    assert not re.search(r"https?:", page, re.IGNORECASE), "names an external URL"
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page), "loads a resource"
    for banned in ("@import", "@font-face", "url(", "<iframe", '<link rel="stylesheet"'):
        assert banned not in page
    assert page.count("<script>") == 1 and page.count("<style>") == 1


def test_policy_admits_exactly_the_inline_script_and_style() -> None:
    page, csp = render_page()
    script = page.split("<script>", 1)[1].split("</script>", 1)[0]
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert f"script-src {_sha256(script)};" in csp
    assert f"style-src {_sha256(style)};" in csp
    assert "unsafe-inline" not in csp


def test_page_polls_the_summary_at_least_once_a_second() -> None:
    page, _ = render_page()
    assert POLL_MS <= 1000 and f"const POLL_MS = {POLL_MS};" in page
    assert '"/v2/experiments/" + encodeURIComponent(name) + "/summary"' in page
    assert 'getJSON("/v2/experiments")' in page  # default: the first experiment listed
    assert 'get("experiment")' in page  # ?experiment= chooses one


# ---- in a real browser ------------------------------------------------------------------------
def _load(url: str, heldout: Any, stop: threading.Event, sent: list[int]) -> None:
    """Split traffic with ground truth until stopped (at most 60 s), ~150 requests a second."""
    rng = random.Random(3)
    truth: list[dict[str, Any]] = []
    deadline = time.monotonic() + 60
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set() and time.monotonic() < deadline:
            k = rng.randrange(len(heldout.windows))
            r = client.post(
                "/v2/models/baseline-predictor/infer", json=infer_body(heldout.windows[k])
            )
            sent[0] += 1
            truth.append({"id": r.json()["id"], "truth": int(heldout.labels[k])})
            if len(truth) == 25:
                client.post(f"/v2/experiments/{EXPERIMENT}/feedback", json={"feedback": truth})
                truth = []
            time.sleep(0.005)


def _number(text: str) -> int:
    """``1,234`` as shown on the page; ValueError while it still shows a placeholder."""
    return int(text.replace(",", ""))


def _until(check: Callable[[], Any], timeout: float = 15) -> Any:
    """The first truthy result of ``check()``; placeholders (ValueError) count as not yet."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
        except ValueError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"page never satisfied {check}")
        time.sleep(0.1)


@pytest.mark.slow
def test_dashboard_in_headless_chromium_under_load(
    smoke_registry: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="pip install playwright (uses the system chromium)"
    )
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} not installed (Debian: apt-get install chromium); .ci/run does")
    monkeypatch.setenv("ABGATE_ANALYSIS_INTERVAL_S", "0.5")
    heldout = Registry(smoke_registry).get(MODELS[0]).load_heldout()
    errors: list[str] = []
    requested: list[str] = []
    stop, sent = threading.Event(), [0]
    with serve(smoke_registry, tmp_path / "events.db", "--durability", "relaxed") as (_, url):
        load = threading.Thread(target=_load, args=(url, heldout, stop, sent), daemon=True)
        load.start()
        try:
            with sync_api.sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                page.on("console", lambda m: errors.extend([m.text] if m.type == "error" else []))
                page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
                page.on("request", lambda r: requested.append(r.url))
                page.goto(url + "/dashboard")

                # both models are on the page, the first experiment is chosen
                for model in MODELS:
                    card = page.locator(f'section.arm[data-model="{model}"]')
                    card.wait_for(timeout=15_000)
                    assert model in card.inner_text()
                assert page.locator("#experiment").input_value() == EXPERIMENT

                # its numbers move while the load runs (polled from Python: the page's
                # Content-Security-Policy rightly refuses Playwright's eval-based waits)
                requests = page.locator("#kpi-requests")
                before = _until(lambda: _number(requests.inner_text()))
                _until(lambda: _number(requests.inner_text()) > before + 50 or None)
                for model in MODELS:
                    served = page.locator(f'section.arm[data-model="{model}"] .stat .v').first
                    first = _until(lambda: _number(served.inner_text()))  # noqa: B023
                    _until(lambda: _number(served.inner_text()) > first or None)  # noqa: B023
                # the verdict, the always-valid p-value and accuracy intervals are drawn
                page.locator("#verdict-chips", has_text="Always-valid p").wait_for(timeout=15_000)
                assert "VERDICT" in page.inner_text("#verdict-label")
                page.locator("#forest circle").nth(len(MODELS)).wait_for(timeout=15_000)
                assert page.locator("#drift tr").count() == 1 + len(MODELS)
                page.wait_for_timeout(1500)  # a little history for the throughput chart

                shot = tmp_path / "dashboard.png"
                page.screenshot(path=str(shot), full_page=True)
                ARTIFACTS.mkdir(exist_ok=True)
                shutil.copy(shot, ARTIFACTS / "dashboard.png")

                # an unknown experiment is reported on the page, not as a blank screen
                other = browser.new_page()
                other.goto(url + "/dashboard?experiment=nope")
                other.locator("#problem.shown").wait_for(timeout=10_000)
                assert "unknown experiment 'nope'" in other.inner_text("#problem")
                browser.close()
        finally:
            stop.set()
            load.join(15)
    assert sent[0] > 50
    assert not errors, errors
    assert requested and all(u.startswith(url + "/") for u in requested), requested
