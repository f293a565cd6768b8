"""The data plane: resolve a call to an experiment or a model, assign a variant, run it with a
deadline and a circuit breaker, fall back once to the default model, record the event.

No HTTP here (see :mod:`abgate.gateway.app`); everything that varies between runs (clock,
randomness, backends, store, metrics registry) is injected, so tests are exact.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from abgate.errors import NotFoundError, ProtocolError, UnavailableError
from abgate.events.store import EventStore
from abgate.events.types import AdminEvent, FeedbackItem, FeedbackResult, InferenceEvent
from abgate.gateway.backends import Backend, BackendError
from abgate.gateway.breaker import CircuitBreaker, CircuitState
from abgate.gateway.config import ExperimentSpec, GatewayConfig
from abgate.gateway.faults import FaultInjector, InjectedFault
from abgate.gateway.live import DriftMonitor
from abgate.gateway.metrics import GatewayMetrics
from abgate.gateway.routing import (
    Assignment,
    WeightedSplitter,
    hash_assign,
    should_mirror,
    sticky_choice,
)


@dataclass
class ModelRuntime:
    name: str
    backend: Backend
    breaker: CircuitBreaker
    timeout_s: float


@dataclass
class ExperimentRuntime:
    spec: ExperimentSpec
    weights: dict[str, float]
    splitter: WeightedSplitter
    fallback: str  # the default model, or the heaviest candidate when no default is set

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True, slots=True)
class Target:
    """What a call addresses: an experiment (split) or one model directly."""

    experiment: ExperimentRuntime | None
    model: str | None


@dataclass(frozen=True, slots=True)
class Served:
    request_id: str
    model: str
    version: str
    probabilities: npt.NDArray[np.float32]
    signals: list[str]
    assignment: str
    fallback_reason: str | None


class _CallFailed(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


@dataclass
class Gateway:
    config: GatewayConfig
    backends: Mapping[str, Backend]
    events: EventStore
    metrics: GatewayMetrics
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    faults: FaultInjector | None = None
    drift: Mapping[str, DriftMonitor] = field(default_factory=dict)
    models: dict[str, ModelRuntime] = field(init=False)
    experiments: dict[str, ExperimentRuntime] = field(init=False)
    _by_default: dict[str, ExperimentRuntime] = field(init=False)
    _tasks: set[asyncio.Task[Any]] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self.models = {}
        for spec in self.config.models:
            if spec.name not in self.backends:
                raise ValueError(f"no backend for model {spec.name!r}")
            breaker = CircuitBreaker(
                self.config.breaker,
                self.monotonic,
                model=spec.name,
                on_transition=self._on_breaker,
            )
            self.models[spec.name] = ModelRuntime(
                spec.name, self.backends[spec.name], breaker, spec.timeout_ms / 1000.0
            )
            self.metrics.set_circuit_state(spec.name, CircuitState.CLOSED)
        self.experiments = {}
        self._by_default = {}
        for exp in self.config.experiments:
            weights = exp.weights()
            fallback = exp.default or max(weights, key=lambda m: (weights[m], m))
            rt = ExperimentRuntime(exp, weights, WeightedSplitter(weights, self.rng), fallback)
            self.experiments[exp.name] = rt
            if exp.default:
                self._by_default[exp.default] = rt
            self.metrics.set_experiment_weights(exp.name, weights)

    # ---- lifecycle -------------------------------------------------------------------------
    async def start(self, *, record_config: bool = True) -> None:
        for backend in self.backends.values():
            await backend.start()
        # The configured weights and default go on record: analyses of the log need them
        # (sample-ratio check), and the audit trail should show what ran. With several worker
        # processes only the primary records them (``record_config``).
        for exp in self.experiments.values() if record_config else ():
            await self.events.record_admin(
                AdminEvent(
                    self.clock(),
                    "experiment_config",
                    exp.name,
                    {
                        "weights": exp.weights,
                        "default": exp.spec.default,
                        "fallback": exp.fallback,
                        "mirror": exp.spec.mirror.model_dump() if exp.spec.mirror else None,
                        "sticky_header": exp.spec.sticky_header,
                        "allocation": exp.spec.allocation.model_dump(),
                        "versions": {m: self.models[m].backend.info.version for m in exp.weights},
                        "sha256": {m: self.models[m].backend.info.sha256 for m in exp.weights},
                    },
                )
            )

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        for backend in self.backends.values():
            await backend.close()

    # ---- addressing ------------------------------------------------------------------------
    def resolve(self, model: str, version: str | None, seldon_model: str | None) -> Target:
        """Seldon semantics: ``seldon-model: <exp>.experiment`` or the default model's name
        gets the split; any other model name goes straight to that model."""
        name = model
        if seldon_model:
            if seldon_model.endswith(".experiment"):
                exp_name = seldon_model[: -len(".experiment")]
                exp = self.experiments.get(exp_name)
                if exp is None:
                    raise NotFoundError(f"unknown experiment '{exp_name}'")
                return Target(exp, None)
            name = seldon_model.removesuffix(".model")
        if version is None and name in self._by_default:
            return Target(self._by_default[name], None)
        rt = self.models.get(name)
        if rt is None:
            raise NotFoundError(f"unknown model '{name}'")
        if version is not None and version != rt.backend.info.version:
            raise NotFoundError(
                f"model '{name}' has no version '{version}' (serving {rt.backend.info.version})"
            )
        return Target(None, name)

    def model_info(self, name: str, version: str | None) -> ModelRuntime:
        target = self.resolve(name, version, None)
        model = target.model or (target.experiment.fallback if target.experiment else name)
        return self.models[model]

    # ---- inference -------------------------------------------------------------------------
    def _assign(
        self, exp: ExperimentRuntime, route_header: str | None, unit: str | None
    ) -> Assignment:
        shares = exp.splitter.shares
        sticky = sticky_choice(route_header, exp.weights) if route_header else None
        if sticky is not None:
            return Assignment(sticky, "sticky", shares.get(sticky, 1.0))
        if unit:
            return hash_assign(exp.spec.effective_salt, unit, exp.weights)
        return exp.splitter.choose()

    async def _call(self, model: str, batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        rt = self.models[model]
        if not rt.breaker.allow():
            raise _CallFailed("circuit_open", f"{model}: circuit breaker open")
        faults = self.faults.settings.get(model) if self.faults is not None else None
        try:
            if faults is not None and (faults.latency_ms > 0 or faults.down):
                # Injected latency must count against the deadline like a slow model would.
                out = await asyncio.wait_for(self._faulty_predict(rt, batch), rt.timeout_s)
            else:
                if faults is not None and self.faults is not None:
                    await self.faults.apply(model)  # error rate only: decides at once
                if getattr(rt.backend, "is_local", False):
                    out = await rt.backend.predict(batch)  # in-process: nothing to time out
                else:
                    out = await asyncio.wait_for(rt.backend.predict(batch), rt.timeout_s)
        except TimeoutError:
            rt.breaker.record_failure()
            raise _CallFailed("timeout", f"{model}: no answer within {rt.timeout_s:g} s") from None
        except InjectedFault as exc:
            rt.breaker.record_failure()
            raise _CallFailed(f"injected_{exc.kind}", f"{model}: injected fault") from None
        except BackendError as exc:
            rt.breaker.record_failure()
            raise _CallFailed(exc.reason, f"{model}: {exc}") from None
        except BaseException:
            rt.breaker.release()
            raise
        rt.breaker.record_success()
        return out

    async def _faulty_predict(
        self, rt: ModelRuntime, batch: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        if self.faults is not None:
            await self.faults.apply(rt.name)
        return await rt.backend.predict(batch)

    def signals(self, probs: npt.NDArray[np.float32]) -> list[str]:
        s = self.config.signal
        buy, sell = s.buy_above, s.sell_below
        # Python floats: comparing numpy scalars one by one costs several times more.
        return ["BUY" if p >= buy else "SELL" if p <= sell else "HOLD" for p in probs.tolist()]

    async def infer(
        self,
        target: Target,
        batch: npt.NDArray[np.float32],
        request_id: str,
        route_header: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Served:
        started = self.monotonic()
        ts = self.clock()
        exp = target.experiment
        if exp is None:
            assignment = Assignment(target.model or "", "direct", 1.0)
        else:
            unit = (
                headers.get(exp.spec.sticky_header) if headers and exp.spec.sticky_header else None
            )
            assignment = self._assign(exp, route_header, unit)
        exp_name = exp.name if exp else ""
        chosen = assignment.model
        served, probs, fallback_reason, error = chosen, None, None, None
        try:
            probs = await self._call(chosen, batch)
        except _CallFailed as first:
            error = str(first)
            if exp is not None and exp.fallback != chosen:
                self.metrics.record_fallback(exp_name, chosen, first.reason)
                try:
                    probs = await self._call(exp.fallback, batch)
                    served, fallback_reason, error = exp.fallback, first.reason, None
                except _CallFailed as second:
                    error = f"{error}; fallback {second}"
                    served = exp.fallback
        seconds = self.monotonic() - started
        status = 200 if probs is not None else 503
        info = self.models[served].backend.info
        signals = self.signals(probs) if probs is not None else []
        how = "fallback" if fallback_reason else assignment.how
        if exp is not None:
            self.metrics.record_assignment(exp_name, chosen, assignment.how)
        self.metrics.observe_inference(
            experiment=exp_name,
            model=served,
            routed_model=exp_name or served,
            model_internal=info.route_name,
            code=status,
            seconds=seconds,
        )
        single = probs is not None and len(probs) == 1
        await self.events.record_inference(
            InferenceEvent(
                ts=ts,
                request_id=request_id,
                experiment=exp.name if exp else None,
                model=served,
                version=info.version,
                assigned_model=chosen if exp else None,
                assignment=how,
                unit_hash=assignment.unit_hash,
                input_sha256=hashlib.sha256(batch.tobytes()).hexdigest(),
                probability=float(probs[0]) if single and probs is not None else None,
                signal=signals[0] if single else None,
                latency_ms=seconds * 1000.0,
                status=status,
                error=error,
                fallback_reason=fallback_reason,
                propensity=assignment.propensity if exp else None,
            )
        )
        if exp is not None and exp.spec.mirror is not None:
            self._maybe_mirror(exp, batch, request_id)
        if probs is None:
            raise UnavailableError(f"no model could answer: {error}")
        monitor = self.drift.get(served)
        if monitor is not None:
            monitor.observe(batch, probs)
        return Served(request_id, served, info.version, probs, signals, how, fallback_reason)

    def _maybe_mirror(
        self, exp: ExperimentRuntime, batch: npt.NDArray[np.float32], request_id: str
    ) -> None:
        mirror = exp.spec.mirror
        if mirror is None or not should_mirror(mirror.percent, self.rng):
            return
        task = asyncio.get_running_loop().create_task(
            self._mirror(exp.name, mirror.name, batch, request_id)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _mirror(
        self, experiment: str, model: str, batch: npt.NDArray[np.float32], request_id: str
    ) -> None:
        """Shadow call: recorded, never returned, never delays the client."""
        started, ts = self.monotonic(), self.clock()
        probs, error, status = None, None, 200
        try:
            probs = await self._call(model, batch)
        except _CallFailed as exc:
            error, status = str(exc), 503
        self.metrics.record_mirror(experiment, model, status)
        info = self.models[model].backend.info
        await self.events.record_inference(
            InferenceEvent(
                ts=ts,
                request_id=f"{request_id}#mirror",
                experiment=experiment,
                model=model,
                version=info.version,
                assigned_model=model,
                assignment="mirror",
                unit_hash=None,
                input_sha256=hashlib.sha256(batch.tobytes()).hexdigest(),
                probability=float(probs[0]) if probs is not None and len(probs) == 1 else None,
                signal=None,
                latency_ms=(self.monotonic() - started) * 1000.0,
                status=status,
                error=error,
            )
        )

    # ---- feedback, admin -------------------------------------------------------------------
    def experiment(self, name: str) -> ExperimentRuntime:
        exp = self.experiments.get(name)
        if exp is None:
            raise NotFoundError(f"unknown experiment '{name}'")
        return exp

    async def feedback(self, experiment: str, items: list[FeedbackItem]) -> FeedbackResult:
        self.experiment(experiment)
        result = await self.events.record_feedback(experiment, items)
        # This call's own counts: with several gateway processes on one log, each counts only
        # what it accepted, and Prometheus sums the processes.
        for model, right, wrong in result.scored:
            for flag, count in ((True, right), (False, wrong)):
                if count:
                    self.metrics.record_feedback(experiment, model, flag, count)
        return result

    async def set_weights(
        self,
        experiment: str,
        weights: Mapping[str, float],
        *,
        actor: str = "admin",
        reason: str | None = None,
    ) -> dict[str, float]:
        exp = self.experiment(experiment)
        unknown = sorted(set(weights) - set(exp.weights))
        if unknown:
            raise ProtocolError(
                f"not candidates of '{experiment}': {', '.join(unknown)} "
                f"(candidates: {', '.join(sorted(exp.weights))})"
            )
        new = dict(exp.weights) | {k: float(v) for k, v in weights.items()}
        try:
            exp.splitter.set_weights(new)
        except ValueError as exc:
            raise ProtocolError(f"invalid weights: {exc}") from None
        old, exp.weights = exp.weights, new
        self.metrics.set_experiment_weights(experiment, new)
        await self.events.record_admin(
            AdminEvent(
                self.clock(),
                "weight_change",
                experiment,
                {"old": old, "new": new, "actor": actor, "reason": reason},
            )
        )
        return new

    async def status(self, experiment: str) -> dict[str, Any]:
        exp = self.experiment(experiment)
        tallies = await self.events.tallies(experiment)
        assigned = await self.events.assignment_counts(experiment)
        total = sum(exp.weights.values())
        variants = []
        for name, weight in sorted(exp.weights.items()):
            t = tallies.get(name)
            rt = self.models[name]
            variants.append(
                {
                    "model": name,
                    "version": rt.backend.info.version,
                    "weight": weight,
                    "target_share": weight / total if total else 0.0,
                    "assigned": assigned.get(name, 0),
                    "served": t.requests if t else 0,
                    "errors": t.errors if t else 0,
                    "fallbacks_served": t.fallbacks if t else 0,
                    "scored": t.scored if t else 0,
                    "correct": t.correct if t else 0,
                    "accuracy": (t.correct / t.scored) if t and t.scored else None,
                    "circuit": rt.breaker.state.name.lower(),
                }
            )
        return {
            "name": experiment,
            "default": exp.spec.default,
            "fallback": exp.fallback,
            "mirror": exp.spec.mirror.model_dump() if exp.spec.mirror else None,
            "sticky_header": exp.spec.sticky_header,
            "variants": variants,
        }

    def _on_breaker(self, model: str, old: CircuitState, new: CircuitState, reason: str) -> None:
        self.metrics.set_circuit_state(model, new)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        event = AdminEvent(
            self.clock(),
            "breaker",
            None,
            {"model": model, "from": old.name.lower(), "to": new.name.lower(), "reason": reason},
        )
        task = loop.create_task(self.events.record_admin(event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
