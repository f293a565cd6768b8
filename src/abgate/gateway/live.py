"""Live analysis: the statistics engine over the event log, every few seconds, in the gateway.

Each look reads the experiment's sufficient statistics from the log (constant time, in a worker
thread), runs :func:`abgate.stats.analyze_experiment` with the sequential states of the previous
look (so always-valid p-values keep their running minimum and confidence sequences their running
intersection), computes drift of the recent traffic against each model card's training
reference, and publishes the result as gauges and as the experiment summary that
``/v2/experiments/{name}/summary`` and the dashboard serve.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from abgate.errors import StoreError
from abgate.events.factory import event_log_exists, load_experiment
from abgate.events.summaries import ipw_statistics
from abgate.market.indicators import drift_inputs
from abgate.stats import (
    AnalysisConfig,
    ExperimentAnalysis,
    SequentialState,
    Verdict,
    analyze_experiment,
)
from abgate.stats.drift import DriftReference, psi

log = logging.getLogger("abgate.gateway.live")

VERDICT_CODE = {Verdict.CONTINUE: 0, Verdict.PROMOTE: 1, Verdict.ROLLBACK: 2, Verdict.INVALID: 3}
DRIFT_WINDOW = 2000  # most recent served windows per model


@dataclass
class DriftMonitor:
    """Recent inputs and predictions of one model, and its training reference."""

    reference: Mapping[str, DriftReference]
    windows: deque[npt.NDArray[np.float32]] = field(default_factory=lambda: deque(maxlen=64))
    predictions: deque[float] = field(default_factory=lambda: deque(maxlen=DRIFT_WINDOW))

    def observe(self, batch: npt.NDArray[np.float32], probs: npt.NDArray[np.float32]) -> None:
        # Keep references to the request arrays (no copy, no maths on the hot path); the
        # window deque bounds memory by batches, the prediction deque by rows.
        self.windows.append(batch)
        self.predictions.extend(probs.tolist())

    def psi(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        if "prediction" in self.reference:
            out["prediction"] = psi(
                self.reference["prediction"], np.fromiter(self.predictions, float)
            )
        if self.windows:
            stacked = np.concatenate(list(self.windows))[-DRIFT_WINDOW:]
            for name, values in drift_inputs(stacked).items():
                if name in self.reference:
                    out[name] = psi(self.reference[name], values)
        return out


class LiveAnalyzer:
    """Periodic looks at every experiment; owns the sequential states between looks."""

    def __init__(
        self,
        db_path: str | Path,
        status: Callable[[str], Any],
        weights: Callable[[str], Mapping[str, float]],
        default: Callable[[str], str],
        experiments: Callable[[], list[str]],
        metrics: Any,
        is_bandit: Callable[[str], bool] = lambda name: False,
        *,
        config: AnalysisConfig | None = None,
        interval_s: float = 2.0,
        drift: Mapping[str, DriftMonitor] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.db_path = str(db_path)  # a file path or a postgresql:// URL
        self._status = status
        self._weights = weights
        self._default = default
        self._experiments = experiments
        self._is_bandit = is_bandit
        self.metrics = metrics
        # Fewer bootstrap resamples than the offline default: a look runs every few seconds
        # beside live traffic, and its GIL time shows up in the gateway's tail latency.
        self.config = config or AnalysisConfig(bootstrap_resamples=400)
        self.interval_s = interval_s
        self.drift = dict(drift or {})
        self.clock = clock
        self.summaries: dict[str, dict[str, Any]] = {}
        self._states: dict[str, dict[str, SequentialState]] = {}
        self._seen: dict[str, int] = {}
        self._analyses: dict[str, ExperimentAnalysis] = {}
        self._fingerprints: dict[str, tuple[tuple[Any, ...], ...]] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            for name in self._experiments():
                try:
                    await self.refresh(name)
                except Exception:  # a look must never take the gateway down
                    log.exception("live analysis of %s failed", name)

    def latest(self, experiment: str) -> tuple[ExperimentAnalysis | None, int]:
        """The latest analysis of ``experiment`` and the scored predictions it saw."""
        return self._analyses.get(experiment), self._seen.get(experiment, 0)

    async def summary(self, experiment: str) -> dict[str, Any]:
        """The latest summary, refreshed now if older than the interval."""
        current = self.summaries.get(experiment)
        if current is None or self.clock() - current["updated"] > self.interval_s:
            return await self.refresh(experiment)
        return current

    async def refresh(self, experiment: str) -> dict[str, Any]:
        async with self._lock:
            status = await self._status(experiment)
            analysis_doc, verdict = await self._analyse(experiment)
            drift = {model: mon.psi() for model, mon in self.drift.items()}
            for model, values in drift.items():
                for feature, value in values.items():
                    if value is not None:
                        self.metrics.drift_psi.labels(model, feature).set(value)
            summary = {
                "experiment": experiment,
                "updated": self.clock(),
                "status": status,
                "verdict": verdict,
                "analysis": analysis_doc,
                "drift": drift,
            }
            self.metrics.analysis_time.labels(experiment).set(summary["updated"])
            self.summaries[experiment] = summary
            return summary

    async def _analyse(self, experiment: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        waiting = {"verdict": "continue", "reasons": ["no_data"], "samples_needed": None}
        if not event_log_exists(self.db_path):
            return None, waiting
        try:
            data = await asyncio.to_thread(
                load_experiment, self.db_path, experiment, latency_sample=2000
            )
        except StoreError:
            return None, waiting
        if self._is_bandit(experiment):
            return None, await self._bandit_summary(experiment)
        # Only arms that still get traffic are compared: after a rollback or a promotion a
        # single arm remains, and the last comparison stands as the record.
        weights = {m: float(w) for m, w in self._weights(experiment).items() if w > 0}
        arms = {m: a for m, a in data.arms.items() if m in weights}
        baseline = self._default(experiment)
        if len(arms) < 2 or baseline not in arms or set(arms) != set(weights):
            last = self._analyses.get(experiment)
            frozen = {
                "verdict": "continue",
                "reasons": ["single_active_arm"],
                "samples_needed": None,
            }
            return (last.to_dict() if last is not None else None), frozen
        scored = sum(a.accuracy.trials for a in arms.values())
        fingerprint = tuple(
            (
                m,
                a.assignments,
                a.accuracy.trials,
                a.accuracy.successes,
                a.errors.trials,
                a.errors.successes,
            )
            for m, a in sorted(arms.items())
        )
        previous = self._analyses.get(experiment)
        if previous is not None and self._fingerprints.get(experiment) == fingerprint:
            analysis = previous
        else:
            # A new look whenever anything changed, ground truth or failures: a candidate that
            # goes down must be caught by its error-rate guardrail before the next feedback.
            # Looks at an unchanged sample leave the always-valid results unchanged.
            states = self._states.get(experiment)
            if states is not None and set(states) != set(arms) - {baseline}:
                states = None  # the arms changed (e.g. a promotion): start a new sequence
            analysis = await asyncio.to_thread(
                analyze_experiment,
                arms,
                weights,
                self.config,
                baseline=baseline,
                rng=np.random.default_rng(0),
                states=states,
            )
            self._states[experiment] = analysis.states()
            self._seen[experiment] = scored
            self._fingerprints[experiment] = fingerprint
            self._analyses[experiment] = analysis
        self._publish(experiment, analysis)
        d = analysis.decision
        verdict = {
            "verdict": d.verdict.value,
            "reasons": list(d.reasons),
            "samples_needed": d.samples_needed,
            "candidate": d.candidate,
            "always_valid_p": {c.candidate: c.sequential_p_adjusted for c in analysis.comparisons},
        }
        return analysis.to_dict(), verdict

    async def _bandit_summary(self, experiment: str) -> dict[str, Any]:
        """Adaptive allocation: the fixed-split tests and the SRM check do not apply; report
        inverse-propensity estimates of each arm's accuracy instead."""
        arms = await asyncio.to_thread(ipw_statistics, self.db_path, experiment)
        estimates = {
            name: {
                "horvitz_thompson": arm.horvitz_thompson,
                "hajek": arm.hajek,
                "standard_error": arm.ht_standard_error,
            }
            for name, arm in arms.items()
        }
        return {
            "verdict": "continue",
            "reasons": ["bandit_allocation"],
            "samples_needed": None,
            "candidate": None,
            "ipw": estimates,
        }

    def _publish(self, experiment: str, analysis: ExperimentAnalysis) -> None:
        m = self.metrics
        m.srm_p_value.labels(experiment).set(analysis.srm.p_value)
        m.verdict.labels(experiment).set(VERDICT_CODE[analysis.decision.verdict])
        for c in analysis.comparisons:
            m.always_valid_p.labels(experiment, c.candidate).set(c.sequential_p_adjusted)
            seq = c.sequential
            for bound, value in (
                ("estimate", seq.estimate),
                ("lower", seq.lower),
                ("upper", seq.upper),
            ):
                if math.isfinite(value):
                    m.accuracy_difference.labels(experiment, c.candidate, bound).set(value)
