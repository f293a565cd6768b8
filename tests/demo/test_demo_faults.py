"""``--candidate-fault``: parsing, the gateway config it produces, and the expected outcomes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from abgate.cli.demo import demo_command
from abgate.demo.faults import (
    BREAKER_COOLDOWN_S,
    DEMO_ROLLOUT,
    CandidateFault,
    fault_checks,
    fault_config,
    parse_candidate_fault,
)
from abgate.demo.gateway import demo_config
from abgate.gateway.config import config_from_dict, default_config


def test_one_flag_several_flags_and_commas_give_one_fault() -> None:
    assert parse_candidate_fault(()) is None
    assert parse_candidate_fault(["error-rate=0.3"]) == CandidateFault(error_rate=0.3)
    both = parse_candidate_fault(["latency-ms=200, down-after=50", " error-rate = 1 "])
    assert both == CandidateFault(error_rate=1.0, latency_ms=200.0, down_after=50)
    assert both is not None and both.describe() == "error-rate=1,latency-ms=200,down-after=50"
    assert parse_candidate_fault(["down-after=0"]) == CandidateFault(down_after=0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("error-rate=1.5", "error-rate must be a number in (0, 1], got '1.5'"),
        ("error-rate=0", "error-rate must be a number in (0, 1], got '0'"),
        ("error-rate=nan", "error-rate must be a number in (0, 1], got 'nan'"),
        ("error-rate=lots", "error-rate must be a number in (0, 1], got 'lots'"),
        ("latency-ms=-5", "latency-ms must be a number in (0, 60000], got '-5'"),
        ("latency-ms=inf", "latency-ms must be a number in (0, 60000], got 'inf'"),
        ("down-after=-1", "down-after must be a whole number of requests ≥ 0, got '-1'"),
        ("down-after=2.5", "down-after must be a whole number of requests ≥ 0, got '2.5'"),
        ("error-rate", "error-rate needs a value, e.g. error-rate=0.3"),
        ("latency-ms=", "latency-ms needs a value, e.g. latency-ms=200"),
        ("errors=0.3", "unknown fault 'errors'; use error-rate=R (0 < R ≤ 1), latency-ms=MS"),
        ("error-rate=0.3,", "empty fault in 'error-rate=0.3,'"),
    ],
)
def test_bad_values_are_explained(value: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_candidate_fault([value])
    assert message in str(info.value)


def test_a_key_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match=r"error-rate given twice \(0.3 and 0.5\)"):
        parse_candidate_fault(["error-rate=0.3", "error-rate=0.5"])


def test_what_must_happen_depends_on_the_fault() -> None:
    slow = CandidateFault(latency_ms=200)
    assert not slow.can_fail and not slow.breaker_expected
    flaky = CandidateFault(error_rate=0.3)
    assert flaky.can_fail and not flaky.breaker_expected  # opening at 30 % is chance
    assert CandidateFault(error_rate=0.7).breaker_expected
    assert CandidateFault(down_after=100).breaker_expected


def base_doc() -> dict[str, Any]:
    doc: dict[str, Any] = default_config().model_dump(mode="json", exclude_none=True)
    return doc


def test_fault_config_adds_faults_rollout_and_a_short_cooldown() -> None:
    doc = fault_config(base_doc(), CandidateFault(error_rate=0.3, latency_ms=20), "cand")
    assert doc["experiments"][0]["rollout"] == DEMO_ROLLOUT
    assert doc["breaker"] == {**base_doc()["breaker"], "cooldown_s": BREAKER_COOLDOWN_S}
    assert doc["faults"] == {"cand": {"error_rate": 0.3, "latency_ms": 20.0, "down": False}}
    # down-after=N is injected at run time, down-after=0 is down from the start
    assert fault_config(base_doc(), CandidateFault(down_after=5), "cand")["faults"] == {}
    down_now = fault_config(base_doc(), CandidateFault(down_after=0), "cand")
    assert down_now["faults"]["cand"]["down"] is True
    assert "rollout" not in base_doc()["experiments"][0]  # the input is not modified


def test_the_gateway_accepts_the_fault_config(tmp_path: Any) -> None:
    from abgate.registry.store import Registry

    for name in ("baseline-predictor", "enhanced-predictor"):
        (tmp_path / name / "1").mkdir(parents=True)
    assert set(Registry(tmp_path).names()) >= {"baseline-predictor", "enhanced-predictor"}
    doc = demo_config(tmp_path, CandidateFault(error_rate=0.3, down_after=10))
    config = config_from_dict(doc, "test")
    exp = config.experiments[0]
    assert exp.rollout is not None and exp.rollout.steps == [30.0, 50.0, 100.0]
    assert exp.weights() == {"baseline-predictor": 70.0, "enhanced-predictor": 30.0}
    assert config.breaker.cooldown_s == BREAKER_COOLDOWN_S
    assert config.faults["enhanced-predictor"].error_rate == 0.3
    assert demo_config(tmp_path) == demo_config(tmp_path, None)  # no fault: as before
    assert "rollout" not in demo_config(tmp_path)["experiments"][0]


def timeline(**summary: Any) -> dict[str, Any]:
    base = {
        "fallbacks": 20,
        "failures": 0,
        "breaker_opened": 1,
        "breaker_first_open_s": 0.6,
        "breaker_first_open_after_requests": 130,
        "down_injected_s": 0.5,
        "down_injected_after_requests": 101,
        "rollout_phase": "rolled_back",
        "rolled_back_s": 0.9,
        "rolled_back_after_requests": 250,
        "candidate_weight_final": 0.0,
    }
    base.update(summary)
    opened_s = base["breaker_first_open_s"]
    return {
        "candidate": "cand",
        "breaker": []
        if opened_s is None
        else [{"t_s": opened_s, "model": "cand", "from": "closed", "to": "open", "reason": "x"}],
        "rollout": []
        if base["rolled_back_s"] is None
        else [{"t_s": base["rolled_back_s"], "action": "rollback", "reason": "statistics: y"}],
        "summary": base,
    }


def by_name(checks: list[Any]) -> dict[str, Any]:
    return {c.name: c for c in checks}


def test_checks_of_a_run_that_went_as_expected() -> None:
    checks = by_name(
        fault_checks(CandidateFault(down_after=100), timeline(), requests=300, failures=0)
    )
    assert all(c.required and c.passed for c in checks.values())
    assert checks["client success 100%"].detail == (
        "300 of 300 requests answered, 20 of them by the fallback"
    )
    assert (
        "candidate down after 100 requests (injected at 0.50 s)" in checks["breaker opened"].detail
    )
    assert checks["rollout rolled back"].detail.startswith("at 0.90 s, statistics: y")


def test_checks_that_fail_say_why() -> None:
    early = timeline(breaker_first_open_s=0.2)  # opened before the candidate went down
    checks = by_name(fault_checks(CandidateFault(down_after=100), early, requests=300, failures=2))
    assert not checks["client success 100%"].passed
    assert checks["client success 100%"].detail.endswith("; 2 failed")
    assert not checks["breaker opened"].passed
    stuck = timeline(rolled_back_s=None, rollout_phase="running", candidate_weight_final=30.0)
    checks = by_name(fault_checks(CandidateFault(error_rate=0.3), stuck, requests=300, failures=0))
    assert not checks["rollout rolled back"].passed
    assert "rollout running, candidate weight 30%" in checks["rollout rolled back"].detail
    # at 30 % the breaker is not required: a closed breaker is reported, not failed
    closed = timeline(breaker_first_open_s=None, down_injected_s=None)
    breaker = by_name(
        fault_checks(CandidateFault(error_rate=0.3), closed, requests=300, failures=0)
    )["breaker opened"]
    assert not breaker.required and not breaker.passed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--candidate-fault", "error-rate=1.5"], "error-rate must be a number in (0, 1]"),
        (["--candidate-fault", "speed=slow"], "unknown fault 'speed'"),
        (["--candidate-fault", "down-after"], "down-after needs a value"),
        (
            ["--scenarios", "50", "--candidate-fault", "down-after=50"],
            "down-after=50 is not below the 50 requests of this run",
        ),
        (
            ["--candidate-fault", "latency-ms=50", "--endpoint", "http://127.0.0.1:9"],
            "needs the demo's own gateway",
        ),
    ],
)
def test_bad_fault_flags_are_usage_errors(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(demo_command, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--candidate-fault'" in result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.iterdir())
