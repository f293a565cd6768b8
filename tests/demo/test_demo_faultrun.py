"""The fault run's view of the gateway: status polls, the expected split, the down trigger."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from abgate.demo.faultrun import FaultWatch
from abgate.demo.faults import CandidateFault
from abgate.loadgen.arms import ExperimentArms
from abgate.loadgen.client import Outcome, Planned
from abgate.loadgen.scenarios import Regime, Scenario
from abgate.loadgen.tally import ClientTally

BASE, CAND = "baseline-predictor", "enhanced-predictor"
ARMS = ExperimentArms("exp", BASE, {BASE: 70.0, CAND: 30.0})
T0 = 1_700_000_000.0


def status(phase: str, candidate_weight: float, circuit: str, history: list[Any]) -> dict[str, Any]:
    return {
        "name": "exp",
        "variants": [
            {"model": BASE, "weight": 100.0 - candidate_weight, "circuit": "closed"},
            {"model": CAND, "weight": candidate_weight, "circuit": circuit},
        ],
        "rollout": {"phase": phase, "step": 0, "step_percent": 30.0, "history": history},
    }


def tally_of(sent_at: list[float], fallbacks: int = 0) -> ClientTally:
    scenario = Scenario(0, "AAPL", "2012-06-01", np.zeros((40, 5), np.float32), 1, 0.0, Regime.BULL)
    tally = ClientTally()
    for i, t in enumerate(sent_at):
        how = "fallback" if i < fallbacks else "hash"
        planned = Planned(i, f"r{i}", f"a{i}", scenario)
        tally.record(Outcome(planned, 200, 1.0, t + 0.001, BASE, "1", how, None, 0.6))
    return tally


def test_the_watch_follows_the_status_and_the_weights_in_force() -> None:
    watch = FaultWatch(CandidateFault(error_rate=0.3), ARMS, t0=T0)
    assert watch.line(ClientTally()).rollout_phase is None and not watch.finished
    started = {"ts": T0 - 0.2, "weights": {BASE: 70.0, CAND: 30.0}}
    rolled = {"ts": T0 + 3.0, "weights": {BASE: 100.0, CAND: 0.0}}
    watch.update(status("rolled_back", 0.0, "open", [started, rolled]))
    watch.update(None)  # a failed poll keeps the last status
    assert watch.finished
    tally = tally_of([0.01 * i for i in range(300)] + [3.0 + 0.01 * i for i in range(200)], 5)
    assert watch.expected_arms(tally).weights == pytest.approx({BASE: 82.0, CAND: 18.0})
    line = watch.line(tally)
    assert (line.rollout_phase, line.candidate_weight, line.fallbacks) == ("rolled_back", 0.0, 5)
    assert line.circuits == ((BASE, "closed"), (CAND, "open")) and not line.down
    assert watch.final_status() == {
        "rollout_phase": "rolled_back",
        "rollout_step_percent": 30.0,
        "weights": {BASE: 100.0, CAND: 0.0},
        "circuits": {BASE: "closed", CAND: "open"},
    }


def test_down_is_due_once_at_the_nth_answer() -> None:
    watch = FaultWatch(CandidateFault(down_after=3), ARMS)
    assert [watch.down_due(n) for n in (1, 2, 3, 3, 4)] == [False, False, True, False, False]
    assert watch.line(ClientTally()).down
    from_start = FaultWatch(CandidateFault(down_after=0), ARMS)  # the YAML takes it down
    assert not any(from_start.down_due(n) for n in range(3)) and from_start.line(ClientTally()).down
    assert not FaultWatch(CandidateFault(error_rate=0.5), ARMS).down_due(0)
