"""Fault injection per model, for tests and demos: a model that is down, flaky or slow.

The gateway awaits ``FaultInjector.apply(model)`` just before calling a model. An injected failure
is an :class:`InjectedFault`, which the gateway treats like any failure of the model (breaker,
fallback), and which is deliberately not an ``AbgateError``: it stands for a broken backend, not
for a mistake abgate reports.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Literal

from abgate.gateway.config import FaultSettings

Sleep = Callable[[float], Awaitable[object]]


class InjectedFault(Exception):
    """A failure injected on purpose into a call to ``model``."""

    def __init__(self, model: str, kind: Literal["down", "error"]) -> None:
        what = "is down" if kind == "down" else "failed"
        super().__init__(f"injected fault: model {model!r} {what}")
        self.model = model
        self.kind = kind


def _is_active(settings: FaultSettings) -> bool:
    return settings.down or settings.error_rate > 0 or settings.latency_ms > 0


class FaultInjector:
    """Applies each model's :class:`FaultSettings`; settings can be replaced while serving."""

    def __init__(
        self,
        settings: Mapping[str, FaultSettings],
        rng: random.Random,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._rng = rng
        self._sleep = sleep
        self._faults: Mapping[str, FaultSettings] = {}
        self.replace_all(settings)

    @property
    def settings(self) -> Mapping[str, FaultSettings]:
        """Read-only view of the models that currently have active faults."""
        return MappingProxyType(self._faults)

    def get(self, model: str) -> FaultSettings:
        """The settings in force for ``model`` (all off when none were set)."""
        return self._faults.get(model) or FaultSettings()

    def set(self, model: str, settings: FaultSettings | None) -> None:
        """Replace the faults of one model; ``None`` or all-off settings clear them."""
        faults = {name: s for name, s in self._faults.items() if name != model}
        if settings is not None and _is_active(settings):
            faults[model] = settings
        self._faults = faults  # swapped whole, so a concurrent apply() sees old or new

    def replace_all(self, settings: Mapping[str, FaultSettings]) -> None:
        """Replace the faults of every model at once."""
        self._faults = {name: s for name, s in settings.items() if _is_active(s)}

    async def apply(self, model: str) -> None:
        """Inject ``model``'s faults: fail at once if down, else add latency, then maybe fail.

        Raises :class:`InjectedFault`. The random generator is drawn only when ``error_rate`` is
        above 0, so a seeded run is reproducible whatever the other settings. A model without
        faults returns without suspending.
        """
        faults = self._faults.get(model)
        if faults is None:
            return
        if faults.down:
            raise InjectedFault(model, "down")
        if faults.latency_ms > 0:
            await self._sleep(faults.latency_ms / 1000)
        if faults.error_rate > 0 and self._rng.random() < faults.error_rate:
            raise InjectedFault(model, "error")
