"""Which variant serves a request: weighted split, hash of a unit, sticky route, mirror.

Pure functions and one small class; randomness is an injected ``random.Random`` so tests are
exact. Arms are always ordered by name, so the same weights give the same mapping everywhere.

Sticky routes follow Seldon Core v2: a response carries ``x-seldon-route: :<model>_<version>:``
and a client that sends the value back stays on that variant. Seldon matches with "header
contains ``:<model>_<version>:``", and its CLI joins several values with ``,``.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass
from itertools import accumulate
from typing import Literal

How = Literal["split", "hash", "sticky", "direct", "fallback"]
"""How a request reached its model (the ``how`` label of ``abgate_assignments_total``)."""

# <model>_<version>; model names are DNS labels (no "_"), so the first "_" ends the name.
_ROUTE_SEGMENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*)(?:_([A-Za-z0-9_-]*))?")


@dataclass(frozen=True, slots=True)
class Assignment:
    """The variant chosen for one request."""

    model: str
    how: How
    propensity: float
    """Probability that this unit/request gets this model under the current weights."""
    unit_hash: str | None = None
    """16 hex chars of the salted unit hash (hash assignment only), safe to log."""


@dataclass(frozen=True, slots=True)
class _Table:
    names: tuple[str, ...]
    bounds: tuple[float, ...]  # cumulative weights; the last one is the total
    shares: Mapping[str, float]

    @classmethod
    def build(cls, weights: Mapping[str, float]) -> _Table:
        for name, weight in weights.items():
            if not (math.isfinite(weight) and weight >= 0):
                raise ValueError(f"weight of {name!r} must be finite and ≥ 0, got {weight!r}")
        # Zero-weight arms are left out of the table, so no draw can land on them.
        arms = sorted((n, float(w)) for n, w in weights.items() if w > 0)
        if not arms:
            raise ValueError(f"at least one weight must be > 0, got {dict(weights)!r}")
        bounds = tuple(accumulate(w for _, w in arms))
        shares = {n: w / bounds[-1] for n, w in arms}
        return cls(tuple(n for n, _ in arms), bounds, shares)

    def pick(self, u: float) -> str:
        """The arm at ``u`` in [0, 1)."""
        i = bisect_right(self.bounds, u * self.bounds[-1])
        return self.names[min(i, len(self.names) - 1)]  # u·total can round up to total


class WeightedSplitter:
    """Random split in proportion to weights; weights can be swapped while serving."""

    def __init__(self, weights: Mapping[str, float], rng: random.Random) -> None:
        self._rng = rng
        self._table = _Table.build(weights)

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Replace all weights; the next ``choose()`` uses them. Raises ValueError if invalid."""
        self._table = _Table.build(weights)  # one assignment: readers see old or new, never half

    @property
    def shares(self) -> dict[str, float]:
        """Model → share of traffic (weights normalised); zero-weight arms are absent."""
        return dict(self._table.shares)

    def choose(self) -> Assignment:
        """Draw a model for one request."""
        table = self._table
        model = table.pick(self._rng.random())
        return Assignment(model, "split", table.shares[model])


def unit_digest(salt: str, unit: str) -> bytes:
    """sha256 of UTF-8 ``salt`` + NUL + ``unit``; the NUL keeps ("ab", "c") ≠ ("a", "bc")."""
    return hashlib.sha256(salt.encode() + b"\x00" + unit.encode()).digest()


def hash_assign(experiment_salt: str, unit: str, weights: Mapping[str, float]) -> Assignment:
    """Deterministic assignment of ``unit`` (a user id, say): same inputs, same model, anywhere.

    The first 8 bytes of :func:`unit_digest` as a big-endian integer / 2**64 give u in [0, 1),
    which falls into the cumulative weights of the arms sorted by name. ``unit_hash`` is the hex
    of those same 8 bytes.
    """
    digest = unit_digest(experiment_salt, unit)
    table = _Table.build(weights)
    model = table.pick(int.from_bytes(digest[:8], "big") / 2**64)
    return Assignment(model, "hash", table.shares[model], unit_hash=digest[:8].hex())


def parse_route(header_value: str | None) -> list[tuple[str, str | None]]:
    """``(model, version)`` pairs named in an ``x-seldon-route`` value, in order.

    ``":exp.experiment:iris2_1:"`` → ``[("iris2", "1")]``. Tolerant: experiment and pipeline
    segments (with a dot), empty and malformed segments are skipped; a segment without ``_`` gives
    version ``None``. Never raises on any string.
    """
    if not header_value:
        return []
    routes: list[tuple[str, str | None]] = []
    for segment in re.split(r"[:,]", header_value):
        if match := _ROUTE_SEGMENT.fullmatch(segment.strip()):
            routes.append((match[1], match[2] or None))
    return routes


def format_route(model: str, version: str | int) -> str:
    """The ``x-seldon-route`` value for a response served by ``model`` at ``version``."""
    return f":{model}_{version}:"


def sticky_choice(route_header: str | None, candidates: Mapping[str, float]) -> str | None:
    """The candidate a returning client is pinned to, or None (then split as usual).

    Only a current candidate with weight > 0 qualifies: taking an arm's weight to 0 drains it even
    of sticky clients. Versions are not compared, so a client stays on a model across redeploys.
    """
    for model, _ in parse_route(route_header):
        if candidates.get(model, 0) > 0:
            return model
    return None


def should_mirror(percent: float, rng: random.Random) -> bool:
    """Whether to copy this request to the mirror, with probability ``percent``/100."""
    if percent <= 0:
        return False
    return percent >= 100 or rng.random() * 100 < percent
