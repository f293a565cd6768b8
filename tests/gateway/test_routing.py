from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binomtest, chisquare

from abgate.gateway.routing import (
    Assignment,
    WeightedSplitter,
    format_route,
    hash_assign,
    parse_route,
    should_mirror,
    sticky_choice,
)

SALT = "financial-ab-test-experiment"
SEVENTY_THIRTY = {"baseline-predictor": 70.0, "enhanced-predictor": 30.0}
N = 20_000


def assert_proportions(counts: Counter[str], weights: dict[str, float]) -> None:
    total_weight = sum(weights.values())
    names = sorted(weights)
    observed = [counts[n] for n in names]
    expected = [sum(observed) * weights[n] / total_weight for n in names]
    assert chisquare(observed, expected).pvalue > 0.001


# --- weighted split -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weights", [SEVENTY_THIRTY, {"a": 50.0, "b": 30.0, "c": 20.0}, {"a": 1.0, "b": 1.0}]
)
def test_split_proportions_follow_the_weights(weights: dict[str, float]) -> None:
    splitter = WeightedSplitter(weights, random.Random(20240611))
    counts = Counter(splitter.choose().model for _ in range(N))
    assert set(counts) == set(weights)
    assert_proportions(counts, weights)


def test_choose_reports_the_share_as_propensity() -> None:
    splitter = WeightedSplitter(SEVENTY_THIRTY, random.Random(1))
    seen = {a.model: a for a in (splitter.choose() for _ in range(200))}
    assert seen["baseline-predictor"] == Assignment("baseline-predictor", "split", 0.7)
    assert seen["enhanced-predictor"] == Assignment("enhanced-predictor", "split", 0.3)
    assert splitter.shares == {"baseline-predictor": 0.7, "enhanced-predictor": 0.3}


def test_same_seed_same_sequence_whatever_the_mapping_order() -> None:
    forward = WeightedSplitter(SEVENTY_THIRTY, random.Random(7))
    backward = WeightedSplitter(dict(reversed(SEVENTY_THIRTY.items())), random.Random(7))
    assert [forward.choose() for _ in range(500)] == [backward.choose() for _ in range(500)]


def test_zero_weight_arm_is_never_chosen() -> None:
    splitter = WeightedSplitter({"a": 1.0, "b": 0.0, "c": 1.0}, random.Random(3))
    counts = Counter(splitter.choose().model for _ in range(N))
    assert "b" not in counts
    assert "b" not in splitter.shares


class _Extremes(random.Random):
    """Returns the extreme draws 0.0 and the largest float below 1.0."""

    def __init__(self) -> None:
        super().__init__(0)
        self._values = [0.0, 1.0 - 2**-53]

    def random(self) -> float:
        return self._values.pop(0)


def test_extreme_draws_skip_zero_weight_arms() -> None:
    splitter = WeightedSplitter({"a": 0.0, "b": 3.0, "c": 0.0, "d": 1.0, "e": 0.0}, _Extremes())
    assert [splitter.choose().model, splitter.choose().model] == ["b", "d"]


def test_weight_change_takes_effect_on_the_next_call() -> None:
    splitter = WeightedSplitter(SEVENTY_THIRTY, random.Random(5))
    splitter.set_weights({"baseline-predictor": 0.0, "enhanced-predictor": 1.0})
    assert {splitter.choose().model for _ in range(1000)} == {"enhanced-predictor"}
    assert splitter.choose().propensity == 1.0
    splitter.set_weights({"baseline-predictor": 1.0, "enhanced-predictor": 3.0})
    assert_proportions(
        Counter(splitter.choose().model for _ in range(N)),
        {"baseline-predictor": 1.0, "enhanced-predictor": 3.0},
    )


@pytest.mark.parametrize(
    "weights",
    [{}, {"a": 0.0}, {"a": 0.0, "b": 0.0}, {"a": -1.0, "b": 2.0}, {"a": float("nan")}],
    ids=["empty", "zero", "all-zero", "negative", "nan"],
)
def test_invalid_weights_are_rejected(weights: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        WeightedSplitter(weights, random.Random(0))
    splitter = WeightedSplitter({"a": 1.0}, random.Random(0))
    with pytest.raises(ValueError):
        splitter.set_weights(weights)
    assert splitter.shares == {"a": 1.0}  # a rejected update leaves the old weights in force
    with pytest.raises(ValueError):
        hash_assign(SALT, "u", weights)


# --- hash assignment ------------------------------------------------------------------------

PINNED = {
    "user-1": ("baseline-predictor", "7bc18bbab9c3d798"),
    "user-3": ("enhanced-predictor", "deaa0a1670f8d803"),
    "user-42": ("enhanced-predictor", "ee5ded44259c8226"),
    "bob": ("baseline-predictor", "025b34939e0afe24"),
}


@pytest.mark.parametrize(("unit", "expected"), PINNED.items())
def test_hash_assignment_is_pinned(unit: str, expected: tuple[str, str]) -> None:
    model, unit_hash = expected
    share = SEVENTY_THIRTY[model] / 100
    assert hash_assign(SALT, unit, SEVENTY_THIRTY) == Assignment(model, "hash", share, unit_hash)


def test_unit_hash_is_truncated_salted_sha256() -> None:
    digest = hashlib.sha256(f"{SALT}\x00user-42".encode()).hexdigest()
    assert hash_assign(SALT, "user-42", SEVENTY_THIRTY).unit_hash == digest[:16]


def test_hash_assignment_is_the_same_in_a_fresh_process() -> None:
    units = [f"user-{i}" for i in range(200)]
    here = [hash_assign(SALT, u, SEVENTY_THIRTY).model for u in units]
    code = (
        "import json, sys\n"
        "from abgate.gateway.routing import hash_assign\n"
        "units, salt, weights = json.load(sys.stdin)\n"
        "print(json.dumps([hash_assign(salt, u, weights).model for u in units]))\n"
    )
    # A different PYTHONHASHSEED proves nothing depends on Python's per-process str hash.
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps([units, SALT, SEVENTY_THIRTY]),
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert json.loads(result.stdout) == here


def test_hash_assignment_ignores_mapping_order() -> None:
    backward = dict(reversed(SEVENTY_THIRTY.items()))
    for i in range(500):
        assert hash_assign(SALT, str(i), backward) == hash_assign(SALT, str(i), SEVENTY_THIRTY)


def test_hash_proportions_follow_the_weights() -> None:
    weights = {"a": 50.0, "b": 30.0, "c": 20.0}
    counts = Counter(hash_assign(SALT, f"user-{i}", weights).model for i in range(N))
    assert_proportions(counts, weights)


def test_hash_never_picks_zero_weight_and_salt_reshuffles() -> None:
    weights = {"a": 1.0, "b": 0.0, "c": 1.0}
    first = [hash_assign("s1", f"u{i}", weights).model for i in range(2000)]
    second = [hash_assign("s2", f"u{i}", weights).model for i in range(2000)]
    assert "b" not in first
    assert first != second


# --- sticky routes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (":iris_1:", [("iris", "1")]),
        (":exp.experiment:iris2_1:", [("iris2", "1")]),
        (":p.pipeline:m_2:", [("m", "2")]),
        (":iris_1:,:iris2_3:", [("iris", "1"), ("iris2", "3")]),
        (" :baseline-predictor_12: ", [("baseline-predictor", "12")]),
        (":iris:", [("iris", None)]),
        (":iris_:", [("iris", None)]),
        ("iris_1", [("iris", "1")]),
        (":a_b_c:", [("a", "b_c")]),
        ("", []),
        (None, []),
        (":::", []),
        (":_1:", []),
        (":x y_1:", []),
        (":é_1:", []),
        ("\x00\xff;--", []),
        (":../../etc_1:", []),
    ],
)
def test_parse_route(header: str | None, expected: list[tuple[str, str | None]]) -> None:
    assert parse_route(header) == expected


@given(st.text())
def test_parse_route_never_raises(header: str) -> None:
    for model, version in parse_route(header):
        assert model
        assert version is None or version


@given(
    st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True),
    st.integers(min_value=1, max_value=10**6),
)
def test_format_then_parse_round_trips(model: str, version: int) -> None:
    assert format_route(model, version) == f":{model}_{version}:"
    assert parse_route(format_route(model, version)) == [(model, str(version))]


def test_sticky_choice() -> None:
    candidates = {"baseline-predictor": 70.0, "enhanced-predictor": 30.0, "drained": 0.0}
    assert sticky_choice(":enhanced-predictor_1:", candidates) == "enhanced-predictor"
    assert sticky_choice(":x.experiment:baseline-predictor_4:", candidates) == "baseline-predictor"
    assert sticky_choice(":drained_1:", candidates) is None  # weight 0 drains sticky clients too
    assert sticky_choice(":gone_1:", candidates) is None
    assert sticky_choice(":gone_1:,:enhanced-predictor_2:", candidates) == "enhanced-predictor"
    assert sticky_choice("garbage", candidates) is None
    assert sticky_choice(None, candidates) is None


# --- mirror ---------------------------------------------------------------------------------


def test_should_mirror_rate() -> None:
    rng = random.Random(11)
    hits = sum(should_mirror(10.0, rng) for _ in range(N))
    assert binomtest(hits, N, 0.10).pvalue > 0.001


def test_should_mirror_edges_do_not_draw() -> None:
    rng = random.Random(11)
    state = rng.getstate()
    assert not any(should_mirror(0.0, rng) for _ in range(100))
    assert all(should_mirror(100.0, rng) for _ in range(100))
    assert rng.getstate() == state
