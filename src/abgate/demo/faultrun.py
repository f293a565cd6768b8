"""Watching the gateway during a fault run: its status, the split to expect, the fault result.

The run loop hands every experiment status it reads (``GET /v2/experiments/{name}``, once per
look) to a :class:`FaultWatch`, which keeps what the live view shows (rollout phase, candidate
weight, breaker states) and the weight steps the client-side analysis needs: once the controller
moves the weights, the sample-ratio check must expect the split that was in force when each
request was sent (:func:`~abgate.demo.timeline.exposure_weights`), not the starting one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from abgate.demo.faults import CandidateFault, FaultCheck, fault_checks
from abgate.demo.snapshot import GatewayLine
from abgate.demo.timeline import exposure_weights, sent_s, weight_steps_from_history
from abgate.loadgen.arms import ExperimentArms
from abgate.loadgen.tally import ClientTally

FINISHED_PHASES = ("rolled_back", "promoted", "paused")


@dataclass
class FaultWatch:
    """The latest gateway status of a fault run, and the weight steps seen so far."""

    fault: CandidateFault
    arms: ExperimentArms
    """The arms and the weights at the start of the load."""
    t0: float = field(default_factory=time.time)
    """Wall-clock start of the load (the timeline's zero)."""
    status: Mapping[str, Any] | None = None
    down_injected: bool = False

    @property
    def candidate(self) -> str:
        return self.arms.candidates[0]

    def down_due(self, answered: int) -> bool:
        """True once, when the ``down-after`` request count is reached (0 is the YAML's job)."""
        due = (
            not self.down_injected
            and bool(self.fault.down_after)
            and (answered == self.fault.down_after)
        )
        if due:
            self.down_injected = True
        return due

    def update(self, status: Mapping[str, Any] | None) -> None:
        if status is not None:
            self.status = status

    @property
    def rollout(self) -> Mapping[str, Any]:
        rollout = self.status.get("rollout") if self.status else None
        return rollout if isinstance(rollout, Mapping) else {}

    @property
    def finished(self) -> bool:
        """The controller reached a phase it does not leave by itself."""
        return self.rollout.get("phase") in FINISHED_PHASES

    def steps(self) -> list[tuple[float, dict[str, float]]]:
        return weight_steps_from_history(self.rollout.get("history") or (), self.t0)

    def expected_arms(self, tally: ClientTally) -> ExperimentArms:
        """The arms with the weights the requests so far should have followed."""
        sent = [sent_s(o) for o in tally.outcomes]
        weights = exposure_weights(self.steps(), sent, self.arms.weights)
        return ExperimentArms(self.arms.name, self.arms.baseline, weights)

    def final_status(self) -> dict[str, Any]:
        """What the last status said: rollout phase and step, weights and breaker states."""
        variants = (self.status or {}).get("variants") or ()
        return {
            "rollout_phase": self.rollout.get("phase"),
            "rollout_step_percent": self.rollout.get("step_percent"),
            "weights": {str(v["model"]): float(v["weight"]) for v in variants},
            "circuits": {str(v["model"]): str(v.get("circuit")) for v in variants},
        }

    def line(self, tally: ClientTally) -> GatewayLine:
        variants = (self.status or {}).get("variants") or ()
        weight = next((v.get("weight") for v in variants if v.get("model") == self.candidate), None)
        return GatewayLine(
            fault=self.fault.describe(),
            candidate=self.candidate,
            rollout_phase=self.rollout.get("phase"),
            candidate_weight=None if weight is None else float(weight),
            circuits=tuple((str(v["model"]), str(v.get("circuit", "?"))) for v in variants),
            fallbacks=sum(t.fallbacks for t in tally.models.values()),
            down=self.down_injected or self.fault.down_after == 0,
        )


def fault_section(
    fault: CandidateFault,
    timeline: Mapping[str, Any],
    tally: ClientTally,
    *,
    final_status: Mapping[str, Any],
    rollout_policy: Mapping[str, Any],
    breaker: Mapping[str, Any],
    analysis_interval_s: float,
) -> tuple[dict[str, Any], Sequence[FaultCheck]]:
    """The report's ``fault`` section and the checks in it; ``final_status`` is
    :meth:`FaultWatch.final_status` after the run."""
    checks = fault_checks(fault, timeline, requests=tally.sent, failures=tally.failures)
    section = {
        **fault.to_dict(),
        "model": timeline["candidate"],
        "rollout_policy": dict(rollout_policy),
        "breaker": dict(breaker),
        "analysis_interval_s": analysis_interval_s,
        "final_status": dict(final_status),
        "checks": [c.to_dict() for c in checks],
        "passed": all(c.passed for c in checks if c.required),
    }
    return section, checks
