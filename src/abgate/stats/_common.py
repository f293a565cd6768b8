"""Shared pieces of the statistics library: reason codes, JSON export, argument checks.

Every result object in :mod:`abgate.stats` is a frozen dataclass that mixes in
:class:`ResultMixin` and carries a :class:`Reason`. Statistically degenerate input (no data,
zero variance, a sequential test still in burn-in) is reported through that reason, never
through an exception; the numeric fields of such a result are finite placeholders (an estimate of
0, a p-value of 1) or an honest unbounded interval (``±inf``), never ``None`` or NaN.
``to_dict`` turns ``±inf`` into ``None`` so the output is strict JSON.

The reason codes follow the idea of GrowthBook's ``gbstats/messages.py``: one short,
machine-readable code per degenerate case, for a CLI or dashboard to explain.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from typing import Any

import numpy as np


class Reason(enum.StrEnum):
    """Why a result is (or is not) fully informative."""

    OK = "ok"
    NO_DATA = "no_data"
    """An arm has no observations."""
    INSUFFICIENT_DATA = "insufficient_data"
    """Too few observations for the quantity (a variance needs two)."""
    ZERO_VARIANCE = "zero_variance"
    """The estimate has no sampling variance (e.g. 0% or 100% in both arms)."""
    ZERO_BASELINE = "zero_baseline"
    """A ratio or relative lift is undefined because the baseline is zero."""
    BURN_IN = "burn_in"
    """The sequential test has not reached its minimum sample yet."""
    EMPTY_INTERSECTION = "empty_intersection"
    """The newest confidence-sequence interval missed the running one (drift?); kept the old."""
    OUT_OF_RANGE = "out_of_range"
    """The requested quantity does not exist within the parameter space."""


ALTERNATIVES = ("two-sided", "larger", "smaller")


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class ResultMixin:
    """Adds ``to_dict()`` (plain, strict-JSON-safe Python objects) to a dataclass."""

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as JSON-ready data; ``±inf`` becomes ``None``, enums their value."""
        out = _jsonable(self)
        if not isinstance(out, dict):  # pragma: no cover - only dataclasses mix this in
            raise TypeError(f"{type(self).__name__} is not a dataclass")
        return out


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """Validate a significance level in (0, 0.5]."""
    if isinstance(alpha, bool) or not isinstance(alpha, int | float):
        raise TypeError(f"{name} must be a float, got {type(alpha).__name__}")
    alpha = float(alpha)
    if not 0.0 < alpha <= 0.5:
        raise ValueError(f"{name} must be in (0, 0.5], got {alpha}")
    return alpha


def check_probability(value: float, name: str) -> float:
    """Validate a number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a float, got {type(value).__name__}")
    value = float(value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value}")
    return value


def check_alternative(alternative: str) -> str:
    """Validate an alternative hypothesis name."""
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    return alternative


def check_int(value: object, name: str, *, minimum: int = 0) -> int:
    """Validate an integer (numpy integers accepted, bool rejected) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    result = int(value)
    if result < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {result}")
    return result


def check_finite(value: object, name: str) -> float:
    """Validate a finite real number and return it as float."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {result}")
    return result
