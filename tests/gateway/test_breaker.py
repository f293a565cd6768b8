from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from abgate.gateway.breaker import CircuitBreaker, CircuitState
from abgate.gateway.config import BreakerSettings

CLOSED, OPEN, HALF_OPEN = CircuitState.CLOSED, CircuitState.OPEN, CircuitState.HALF_OPEN


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, CircuitState, CircuitState, str]] = []

    def __call__(self, model: str, old: CircuitState, new: CircuitState, reason: str) -> None:
        self.events.append((model, old, new, reason))

    @property
    def states(self) -> list[CircuitState]:
        return [new for _, _, new, _ in self.events]


def make(
    clock: FakeClock | None = None, **overrides: Any
) -> tuple[CircuitBreaker, FakeClock, Recorder]:
    fields: dict[str, Any] = {
        "consecutive_failures": 3,
        "window": 10,
        "failure_rate": 0.5,
        "min_calls": 10,
        "cooldown_s": 5.0,
        "half_open_max_calls": 1,
    }
    clock = clock or FakeClock()
    recorder = Recorder()
    breaker = CircuitBreaker(
        BreakerSettings(**(fields | overrides)), clock, model="m", on_transition=recorder
    )
    return breaker, clock, recorder


def run(breaker: CircuitBreaker, outcomes: str) -> None:
    """Record outcomes given as a string: F = failure, S = success."""
    for outcome in outcomes:
        if outcome == "F":
            breaker.record_failure()
        else:
            breaker.record_success()


def open_breaker(breaker: CircuitBreaker) -> None:
    run(breaker, "F" * breaker.settings.consecutive_failures)
    assert breaker.state is OPEN


def test_state_values_are_the_gauge_values() -> None:
    assert [int(s) for s in (CLOSED, OPEN, HALF_OPEN)] == [0, 1, 2]


def test_starts_closed_and_allows_calls() -> None:
    breaker, _, recorder = make()
    assert breaker.state is CLOSED
    assert all(breaker.allow() for _ in range(100))
    assert recorder.events == []
    assert breaker.retry_after == 0.0


def test_opens_after_exactly_n_consecutive_failures() -> None:
    breaker, _, recorder = make()
    run(breaker, "FF")
    assert breaker.state is CLOSED
    run(breaker, "F")
    assert breaker.state is OPEN
    assert recorder.events == [("m", CLOSED, OPEN, "3 consecutive failures")]
    assert not breaker.allow()


def test_a_success_resets_the_consecutive_count() -> None:
    breaker, _, _ = make()
    run(breaker, "FFSFF")
    assert breaker.state is CLOSED


def test_failure_rate_waits_for_min_calls() -> None:
    breaker, _, recorder = make(consecutive_failures=100, window=10, min_calls=6)
    run(breaker, "FSFSF")  # 60 % failures, but only 5 calls
    assert breaker.state is CLOSED
    run(breaker, "S")  # 6 calls, 50 %: a success completes the window
    assert recorder.events == [("m", CLOSED, OPEN, "failure rate 50% over the last 6 calls")]


def test_failure_rate_counts_only_the_sliding_window() -> None:
    # Window of 4, open at ≥ 40 %: the first failure has slid out when the second arrives.
    breaker, _, _ = make(consecutive_failures=100, window=4, min_calls=4, failure_rate=0.4)
    run(breaker, "FSSSF")  # last 4: S S S F = 25 % (all 5 calls: 40 %)
    assert breaker.state is CLOSED
    other, _, recorder = make(consecutive_failures=100, window=4, min_calls=4, failure_rate=0.4)
    run(other, "FSSF")  # last 4: 50 %
    assert recorder.states == [OPEN]


@given(st.text(alphabet="FS", max_size=60))
def test_closed_breaker_matches_a_naive_reference(outcomes: str) -> None:
    settings: dict[str, Any] = {
        "consecutive_failures": 4,
        "window": 6,
        "min_calls": 5,
        "failure_rate": 0.5,
    }
    breaker, _, recorder = make(**settings)
    expected_open_at = None
    for i in range(len(outcomes)):
        last = outcomes[max(0, i + 1 - 6) : i + 1]
        rate_hit = len(last) >= 5 and last.count("F") / len(last) >= 0.5
        if outcomes[: i + 1].endswith("FFFF") or rate_hit:
            expected_open_at = i
            break
    for i, outcome in enumerate(outcomes):
        run(breaker, outcome)
        if breaker.state is OPEN:
            assert i == expected_open_at
            assert recorder.states == [OPEN]
            return
    assert expected_open_at is None


def test_open_rejects_until_cooldown_then_goes_half_open() -> None:
    breaker, clock, recorder = make()
    open_breaker(breaker)
    clock.now += 4.999
    assert not breaker.allow()
    assert breaker.retry_after == pytest.approx(0.001)
    assert breaker.state is OPEN  # the state only moves when allow() is asked
    clock.now += 0.001
    assert breaker.state is OPEN
    assert breaker.allow()
    assert breaker.state is HALF_OPEN
    assert recorder.events[-1] == ("m", OPEN, HALF_OPEN, "cooldown elapsed")
    assert breaker.retry_after == 0.0


@pytest.mark.parametrize("max_probes", [1, 2, 3])
def test_half_open_lets_only_the_allowed_number_of_probes_through(max_probes: int) -> None:
    breaker, clock, _ = make(half_open_max_calls=max_probes)
    open_breaker(breaker)
    clock.now += 5.0
    admitted = [breaker.allow() for _ in range(10)]
    assert admitted == [True] * max_probes + [False] * (10 - max_probes)
    breaker.release()  # a probe abandoned without a verdict frees its slot
    assert breaker.allow()
    assert not breaker.allow()
    assert breaker.state is HALF_OPEN


def test_probe_success_closes_with_a_clean_history() -> None:
    breaker, clock, recorder = make()
    open_breaker(breaker)
    clock.now += 5.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state is CLOSED
    assert recorder.events[-1] == ("m", HALF_OPEN, CLOSED, "probe succeeded")
    run(breaker, "FF")  # the failures from before opening are forgotten
    assert breaker.state is CLOSED


def test_probe_failure_reopens_and_restarts_the_cooldown() -> None:
    breaker, clock, recorder = make()
    open_breaker(breaker)
    clock.now += 5.0
    assert breaker.allow()
    clock.now += 1.0
    breaker.record_failure()
    assert breaker.state is OPEN
    assert recorder.events[-1] == ("m", HALF_OPEN, OPEN, "probe failed")
    clock.now += 4.9
    assert not breaker.allow()
    clock.now += 0.1
    assert breaker.allow()
    assert recorder.states == [OPEN, HALF_OPEN, OPEN, HALF_OPEN]


def test_late_results_while_open_change_nothing() -> None:
    breaker, clock, recorder = make()
    open_breaker(breaker)
    clock.now += 3.0
    breaker.record_failure()  # a call admitted before opening fails late
    breaker.record_success()
    breaker.release()
    assert breaker.state is OPEN
    clock.now += 2.0  # the cooldown still counts from the opening
    assert breaker.allow()
    assert recorder.states == [OPEN, HALF_OPEN]


def test_reset_closes_and_forgets() -> None:
    breaker, _, recorder = make()
    open_breaker(breaker)
    breaker.reset("operator")
    assert breaker.state is CLOSED
    assert recorder.events[-1] == ("m", OPEN, CLOSED, "operator")
    run(breaker, "FF")
    assert breaker.state is CLOSED
    breaker.reset()  # already closed: no transition reported
    assert len(recorder.events) == 2


def test_works_without_a_callback() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(BreakerSettings(consecutive_failures=1), clock)
    breaker.record_failure()
    assert breaker.state is OPEN
    assert breaker.model == ""
