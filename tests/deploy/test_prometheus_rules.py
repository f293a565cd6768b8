"""The alert and recording rules: valid for promtool, unit-tested alert by alert, and built only
from series the gateway exports."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import yaml

from .conftest import (
    EXAMPLE_CONFIG,
    RULE_TESTS,
    RULES,
    exported_metric_names,
    metric_names,
    require_binary,
)

ALERTS = {
    "CandidateErrorRateHigh",
    "CandidateLatencyRegression",
    "CircuitBreakerOpen",
    "SampleRatioMismatch",
    "AccuracyDegradation",
    "PredictionDrift",
    "NoTraffic",
}


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = require_binary("promtool")
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, timeout=60, cwd=RULES.parent
    )


def test_every_alert_is_there_with_severity_summary_and_runbook() -> None:
    alerts = {r["alert"]: r for r in rules() if "alert" in r}
    assert set(alerts) == ALERTS
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        for key in ("summary", "description", "runbook"):
            assert rule["annotations"].get(key, "").strip(), f"{name} has no {key}"


def test_rules_use_only_series_the_gateway_exports() -> None:
    recorded = {r["record"] for r in rules() if "record" in r}
    known = exported_metric_names() | recorded
    for rule in rules():
        unknown = metric_names(rule["expr"]) - known
        assert not unknown, f"{rule.get('alert') or rule['record']} uses {sorted(unknown)}"


def test_recording_rules_cover_per_model_rates() -> None:
    recorded = {r["record"] for r in rules() if "record" in r}
    for name in (
        "experiment_model:abgate_requests:rate5m",
        "experiment_model:abgate_assignments:rate5m",
        "experiment_model:abgate_failures:ratio_rate5m",
        "experiment_model:abgate_request_duration_seconds:p95_5m",
        "experiment_model:abgate_accuracy:ratio_rate30m",
    ):
        assert name in recorded


def test_every_alert_has_unit_tests_that_fire_and_that_stay_silent() -> None:
    doc = yaml.safe_load(RULE_TESTS.read_text())
    fires: set[str] = set()
    silent: set[str] = set()
    for case in doc["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else silent).add(check["alertname"])
    assert fires == ALERTS, f"no firing case for {sorted(ALERTS - fires)}"
    assert silent == ALERTS, f"no silent case for {sorted(ALERTS - silent)}"


def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", RULES.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = promtool("test", "rules", RULE_TESTS.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_example_scrape_config_is_valid() -> None:
    result = promtool("check", "config", EXAMPLE_CONFIG.name)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("threshold", ["< 0.001", "> 0.25"])
def test_thresholds_from_the_issue(threshold: str) -> None:
    exprs = {r["alert"]: r["expr"] for r in rules() if "alert" in r}
    owner = "SampleRatioMismatch" if threshold == "< 0.001" else "PredictionDrift"
    assert threshold in exprs[owner]
