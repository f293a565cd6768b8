"""Runs the Thompson-sampling allocation of bandit experiments inside the gateway.

Every ``update_interval_s`` the shares are recomputed from the experiment's scored predictions
(event-log tallies, constant time) and swapped into the splitter at once, so every request is
assigned with a known probability, which the event log stores as its propensity. Each update is
recorded as an ``allocation`` admin event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import numpy as np

from abgate.events.types import AdminEvent
from abgate.gateway.service import ExperimentRuntime, Gateway
from abgate.stats.bandit import thompson_shares

log = logging.getLogger("abgate.gateway.bandit")


class BanditAllocator:
    def __init__(self, gateway: Gateway, rng: np.random.Generator):
        self.gateway = gateway
        self.rng = rng
        self._tasks: list[asyncio.Task[None]] = []

    def experiments(self) -> list[ExperimentRuntime]:
        return [
            e for e in self.gateway.experiments.values() if e.spec.allocation.policy == "thompson"
        ]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for exp in self.experiments():
            await self.update(exp)
            self._tasks.append(loop.create_task(self._loop(exp)))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _loop(self, exp: ExperimentRuntime) -> None:
        while True:
            await asyncio.sleep(exp.spec.allocation.update_interval_s)
            try:
                await self.update(exp)
            except Exception:  # never let allocation take the gateway down
                log.exception("bandit update of %s failed", exp.name)

    async def update(self, exp: ExperimentRuntime) -> dict[str, float]:
        tallies = await self.gateway.events.tallies(exp.name)
        arms = [m for m, w in exp.spec.weights().items() if w > 0]
        wins = {m: tallies[m].correct if m in tallies else 0 for m in arms}
        losses = {m: (tallies[m].scored - tallies[m].correct) if m in tallies else 0 for m in arms}
        shares = thompson_shares(
            wins, losses, min_share=exp.spec.allocation.min_share, rng=self.rng
        )
        if shares != exp.splitter.shares:
            exp.splitter.set_weights(shares)
            self.gateway.metrics.set_experiment_weights(exp.name, shares)
            await self.gateway.events.record_admin(
                AdminEvent(
                    self.gateway.clock(),
                    "allocation",
                    exp.name,
                    {"shares": shares, "correct": wins, "wrong": losses},
                )
            )
        return shares
