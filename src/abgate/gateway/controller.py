"""Applies rollout decisions (automatic and manual) to a running gateway.

Every transition changes the weights through :meth:`Gateway.set_weights`, is recorded in the
event log as an ``admin`` event of kind ``rollout`` (action, reason, weights, and the statistics
snapshot it was based on), is visible in metrics (``abgate_rollout_phase``,
``abgate_rollout_step_percent``) and the experiment status, and is POSTed to the policy's webhook
when one is set (best effort: a failing webhook is logged, never retried in a loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

from abgate.errors import ProtocolError
from abgate.events.types import AdminEvent
from abgate.gateway.config import RolloutPolicy
from abgate.gateway.live import LiveAnalyzer
from abgate.gateway.rollout import (
    Action,
    Decision,
    Evidence,
    Phase,
    RolloutState,
    apply,
    next_action,
    weights_for,
)
from abgate.gateway.service import Gateway

log = logging.getLogger("abgate.gateway.rollout")
PHASE_CODE = {Phase.RUNNING: 0, Phase.PAUSED: 1, Phase.PROMOTED: 2, Phase.ROLLED_BACK: 3}


class RolloutController:
    def __init__(
        self,
        gateway: Gateway,
        live: LiveAnalyzer,
        *,
        clock: Callable[[], float] = time.time,
        http: httpx.AsyncClient | None = None,
    ):
        self.gateway = gateway
        self.live = live
        self.clock = clock
        self.states: dict[str, RolloutState] = {}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self._http = http
        self._tasks: list[asyncio.Task[None]] = []

    def policy(self, experiment: str) -> RolloutPolicy | None:
        return self.gateway.experiment(experiment).spec.rollout

    def pair(self, experiment: str) -> tuple[str, str]:
        """(default, candidate) of a two-arm experiment."""
        exp = self.gateway.experiment(experiment)
        default = exp.spec.default or exp.fallback
        others = [m for m in exp.weights if m != default]
        if len(others) != 1:
            raise ProtocolError(
                f"'{experiment}' has {len(others)} candidates besides '{default}'; "
                "promote/rollback need exactly one (use set-weights)",
                409,
            )
        return default, others[0]

    async def start(self) -> None:
        for name, exp in self.gateway.experiments.items():
            policy = exp.spec.rollout
            if policy is None:
                continue
            _, scored = self.live.latest(name)
            state = RolloutState.begin(self.clock(), scored)
            await self._commit(
                name, state, Decision(Action.HOLD, "rollout started"), actor="rollout"
            )
            self._tasks.append(asyncio.get_running_loop().create_task(self._loop(name, policy)))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _loop(self, experiment: str, policy: RolloutPolicy) -> None:
        while not self.states[experiment].finished:
            await asyncio.sleep(policy.check_interval_s)
            try:
                await self.check(experiment)
            except Exception:  # a failed check must not stop the gateway or the loop
                log.exception("rollout check of %s failed", experiment)

    async def check(self, experiment: str) -> Decision:
        """One automatic check: refresh the analysis, decide, apply."""
        policy = self.policy(experiment)
        state = self.states.get(experiment)
        if policy is None or state is None:
            raise ProtocolError(f"'{experiment}' has no rollout policy", 409)
        await self.live.refresh(experiment)
        analysis, scored = self.live.latest(experiment)
        decision = next_action(
            policy, state, Evidence.from_analysis(analysis, scored), self.clock()
        )
        if decision.action is not Action.HOLD:
            await self._commit(experiment, apply(state, decision, self.clock(), scored), decision)
        return decision

    async def manual(self, experiment: str, action: Action) -> dict[str, Any]:
        """promote / rollback / pause / resume from the admin API."""
        self.pair(experiment)  # 409 unless there is exactly one candidate
        state = self.states.get(experiment)
        _, scored = self.live.latest(experiment)
        now = self.clock()
        if action in (Action.PAUSE, Action.HOLD) and state is None:
            raise ProtocolError(f"'{experiment}' has no rollout to pause or resume", 409)
        if state is None:  # a fixed experiment: promote/rollback still make sense
            state = RolloutState.begin(now, scored)
        if action is Action.PAUSE and state.phase is not Phase.RUNNING:
            raise ProtocolError(f"rollout of '{experiment}' is {state.phase.value}", 409)
        if action is Action.HOLD:  # resume
            if state.phase is not Phase.PAUSED:
                raise ProtocolError(f"rollout of '{experiment}' is {state.phase.value}", 409)
            new = RolloutState(Phase.RUNNING, state.step, now, now, scored)
            decision = Decision(Action.HOLD, "resumed manually")
        else:
            decision = Decision(action, "manual")
            new = apply(state, decision, now, scored)
        await self._commit(experiment, new, decision, actor="admin")
        return self.status(experiment) or {}

    def status(self, experiment: str) -> dict[str, Any] | None:
        state = self.states.get(experiment)
        if state is None:
            return None
        policy = self.policy(experiment)
        return {
            "phase": state.phase.value,
            "step": state.step,
            "step_percent": policy.steps[state.step] if policy else None,
            "steps": policy.steps if policy else None,
            "started_at": state.started_at,
            "history": self.history.get(experiment, [])[-20:],
        }

    async def _commit(
        self, experiment: str, state: RolloutState, decision: Decision, actor: str = "rollout"
    ) -> None:
        default, candidate = self.pair(experiment)
        policy = self.policy(experiment)
        if policy is not None:
            weights = weights_for(policy, state, default, candidate)
        elif state.phase is Phase.PROMOTED:
            weights = {default: 0.0, candidate: 100.0}
        elif state.phase is Phase.ROLLED_BACK:
            weights = {default: 100.0, candidate: 0.0}
        else:
            weights = dict(self.gateway.experiment(experiment).weights)
        await self.gateway.set_weights(
            experiment, weights, actor=actor, reason=f"{decision.action.value}: {decision.reason}"
        )
        if state.phase is Phase.PROMOTED:
            self.gateway.experiment(experiment).fallback = candidate
        self.states[experiment] = state
        analysis, scored = self.live.latest(experiment)
        record = {
            "action": decision.action.value,
            "reason": decision.reason,
            "actor": actor,
            "phase": state.phase.value,
            "step": state.step,
            "weights": weights,
            "scored": scored,
            "ts": self.clock(),
        }
        self.history.setdefault(experiment, []).append(record)
        snapshot = analysis.to_dict() if analysis is not None else None
        await self.gateway.events.record_admin(
            AdminEvent(self.clock(), "rollout", experiment, record | {"analysis": snapshot})
        )
        m = self.gateway.metrics
        m.rollout_phase.labels(experiment).set(PHASE_CODE[state.phase])
        m.rollout_step.labels(experiment).set(weights[candidate])
        if policy is not None and policy.webhook:
            await self._notify(policy.webhook, {"experiment": experiment, **record})

    async def _notify(self, url: str, doc: dict[str, Any]) -> None:
        client = self._http or httpx.AsyncClient()
        try:
            resp = await client.post(url, json=doc, timeout=2.0)
            if resp.status_code >= 400:
                log.warning("rollout webhook %s answered %s", url, resp.status_code)
        except httpx.HTTPError as exc:
            log.warning("rollout webhook %s failed: %s", url, exc)
        finally:
            if self._http is None:
                await client.aclose()
