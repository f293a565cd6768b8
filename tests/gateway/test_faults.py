from __future__ import annotations

import random

import pytest

from abgate.errors import AbgateError
from abgate.gateway.config import FaultSettings
from abgate.gateway.faults import FaultInjector, InjectedFault


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def injector(
    faults: dict[str, FaultSettings], seed: int = 0
) -> tuple[FaultInjector, random.Random, FakeSleep]:
    rng, sleep = random.Random(seed), FakeSleep()
    return FaultInjector(faults, rng, sleep=sleep), rng, sleep


def test_injected_fault_is_not_an_abgate_error() -> None:
    fault = InjectedFault("m", "down")
    assert isinstance(fault, Exception) and not isinstance(fault, AbgateError)
    assert (fault.model, fault.kind) == ("m", "down")
    assert str(fault) == "injected fault: model 'm' is down"


async def test_no_faults_no_delay_no_draw() -> None:
    inj, rng, sleep = injector({"other": FaultSettings(error_rate=0.5)})
    state = rng.getstate()
    for _ in range(100):
        await inj.apply("m")
    assert sleep.calls == []
    assert rng.getstate() == state


async def test_down_fails_at_once() -> None:
    inj, rng, sleep = injector({"m": FaultSettings(down=True, latency_ms=100)})
    state = rng.getstate()
    with pytest.raises(InjectedFault) as info:
        await inj.apply("m")
    assert info.value.kind == "down"
    assert sleep.calls == []
    assert rng.getstate() == state


async def test_latency_is_awaited_in_seconds() -> None:
    inj, rng, sleep = injector({"m": FaultSettings(latency_ms=250)})
    state = rng.getstate()
    await inj.apply("m")
    await inj.apply("m")
    assert sleep.calls == [0.25, 0.25]
    assert rng.getstate() == state  # no error rate: the generator is not drawn


async def test_error_rate_follows_the_seeded_generator_exactly() -> None:
    inj, _, sleep = injector({"m": FaultSettings(error_rate=0.3, latency_ms=5)}, seed=42)
    reference = random.Random(42)
    for _ in range(2000):
        expected_failure = reference.random() < 0.3
        try:
            await inj.apply("m")
        except InjectedFault as exc:
            assert exc.kind == "error"
            assert expected_failure
        else:
            assert not expected_failure
    assert sleep.calls == [0.005] * 2000  # a failing call is slow too


@pytest.mark.parametrize(("rate", "fails"), [(1.0, True), (0.0, False)])
async def test_error_rate_edges(rate: float, fails: bool) -> None:
    inj, _, _ = injector({"m": FaultSettings(error_rate=rate)})
    outcomes = []
    for _ in range(50):
        try:
            await inj.apply("m")
            outcomes.append(False)
        except InjectedFault:
            outcomes.append(True)
    assert outcomes == [fails] * 50


async def test_settings_can_be_replaced_at_runtime() -> None:
    inj, _, _ = injector({})
    assert dict(inj.settings) == {}
    inj.set("m", FaultSettings(down=True))
    with pytest.raises(InjectedFault):
        await inj.apply("m")
    assert inj.get("m") == FaultSettings(down=True)
    inj.set("m", FaultSettings())  # all off: the model is cleared
    await inj.apply("m")
    assert "m" not in inj.settings
    assert inj.get("m") == FaultSettings()
    inj.replace_all({"a": FaultSettings(down=True), "b": FaultSettings()})
    assert list(inj.settings) == ["a"]
    inj.set("a", None)
    assert dict(inj.settings) == {}


def test_settings_view_is_read_only() -> None:
    inj, _, _ = injector({"m": FaultSettings(down=True)})
    with pytest.raises(TypeError):
        inj.settings["x"] = FaultSettings()  # type: ignore[index]
