"""The fault-injection demo: what ``--candidate-fault`` means and what the run must show.

``abgate demo --candidate-fault error-rate=0.3`` (or ``latency-ms=200``, ``down-after=N``, several
at once) breaks the candidate on purpose and lets the gateway's safety machinery act:

- **error rate and latency** go into the experiment YAML (``faults:``), so they hold from the
  first request; **down-after=N** is injected through the admin API
  (``PUT /v2/models/{model}/faults``) once N requests have been answered;
- the experiment gets a **rollout policy** (:data:`DEMO_ROLLOUT`), so the gateway's controller
  watches the live statistics and rolls the candidate back when a guardrail is harmed;
- the **breaker** keeps its thresholds but cools down in :data:`BREAKER_COOLDOWN_S` instead of
  10 s, so its probes show within a run of a few seconds.

:func:`fault_checks` then turns the timeline into the expected outcomes, each passed or not.
Everything here is pure; the runner does the I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEMO_ROLLOUT: dict[str, Any] = {
    "steps": [30.0, 50.0, 100.0],
    "min_samples": 200,
    "check_interval_s": 0.5,
    "max_duration_s": 600.0,
}
"""The rollout policy of a fault run, sized for ~500 requests that take a few seconds.

The first step is the demo's usual 30 %, so a fault run starts with the same split as a normal
one (and at 30 % the candidate collects evidence three times faster than at 10 %). At 30 % error
rate, the always-valid error-rate guardrail (margin 1 point) is significantly harmed after about
210 requests, sooner once the breaker turns every call away; a 200 ms latency harms the p95
guardrail at the first check. A healthy candidate would need ``min_samples`` = 200 scored
predictions and non-inferior guardrails to advance to 50 %; 100 % is reached only by promotion.
A check every 0.5 s gives a few looks per second of load; ``max_duration_s`` never binds here.
"""
BREAKER_COOLDOWN_S = 1.0
"""Seconds an open breaker waits before probing (the gateway's default is 10)."""
ANALYSIS_INTERVAL_S = 0.5
"""The gateway's live-analysis interval in a fault run (``ABGATE_ANALYSIS_INTERVAL_S``)."""
HIGH_ERROR_RATE = 0.7
"""From this error rate on, the breaker must open. With the default thresholds (5 failures in a
row, or half of the last 20 calls) it opens within 20 calls in 99.3 % of simulated runs at 70 %,
but in only 78 % at 50 %; below 70 % it is reported, not required."""
SETTLE_S = 3 * float(DEMO_ROLLOUT["check_interval_s"]) + 1.0
"""After the load, how long to wait for the controller's next checks to act on the last data."""

_KEYS = ("error-rate", "latency-ms", "down-after")
_USAGE = "use error-rate=R (0 < R ≤ 1), latency-ms=MS (> 0) or down-after=N (N ≥ 0)"
MAX_LATENCY_MS = 60_000.0


@dataclass(frozen=True)
class CandidateFault:
    """The faults injected into the candidate (all off by default)."""

    error_rate: float = 0.0
    """Share of calls to the candidate that fail, from the first request (YAML ``faults``)."""
    latency_ms: float = 0.0
    """Milliseconds added to every call to the candidate, from the first request."""
    down_after: int | None = None
    """The candidate goes down (every call fails) once this many requests were answered."""

    @property
    def can_fail(self) -> bool:
        """Whether calls to the candidate fail (so fallbacks must answer)."""
        return self.error_rate > 0 or self.down_after is not None

    @property
    def breaker_expected(self) -> bool:
        """Whether the breaker must open: the candidate goes down, or fails very often."""
        return self.down_after is not None or self.error_rate >= HIGH_ERROR_RATE

    def describe(self) -> str:
        """The flag's own syntax: ``error-rate=0.3,down-after=100``."""
        parts = []
        if self.error_rate:
            parts.append(f"error-rate={self.error_rate:g}")
        if self.latency_ms:
            parts.append(f"latency-ms={self.latency_ms:g}")
        if self.down_after is not None:
            parts.append(f"down-after={self.down_after}")
        return ",".join(parts)

    def settings(self, *, down: bool = False) -> dict[str, Any]:
        """The gateway's ``FaultSettings`` fields (YAML ``faults.<model>`` or the admin body)."""
        return {"error_rate": self.error_rate, "latency_ms": self.latency_ms, "down": down}

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.describe(),
            "error_rate": self.error_rate,
            "latency_ms": self.latency_ms,
            "down_after": self.down_after,
        }


def _number(key: str, text: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and low < value <= high):
        bounds = "(0, 1]" if key == "error-rate" else f"(0, {high:g}]"
        raise ValueError(f"{key} must be a number in {bounds}, got {text!r}")
    return value


def parse_candidate_fault(values: Iterable[str]) -> CandidateFault | None:
    """``("error-rate=0.3", "latency-ms=200,down-after=50")`` → one :class:`CandidateFault`.

    Each value holds one or more comma-separated ``key=value`` items; a key may appear once.
    None when ``values`` is empty. Raises ``ValueError`` with a message for the user.
    """
    found: dict[str, str] = {}
    for value in values:
        for item in value.split(","):
            key, eq, text = (part.strip() for part in item.partition("="))
            if not key and not text:
                raise ValueError(f"empty fault in {value!r}; {_USAGE}")
            if key not in _KEYS:
                raise ValueError(f"unknown fault {key!r}; {_USAGE}")
            if not eq or not text:
                raise ValueError(f"{key} needs a value, e.g. {key}={_example(key)}")
            if key in found:
                raise ValueError(f"{key} given twice ({found[key]} and {text})")
            found[key] = text
    if not found:
        return None
    down_after = None
    if "down-after" in found:
        text = found["down-after"]
        if not text.isdigit():
            raise ValueError(f"down-after must be a whole number of requests ≥ 0, got {text!r}")
        down_after = int(text)
    return CandidateFault(
        error_rate=_number("error-rate", found["error-rate"], 0.0, 1.0)
        if "error-rate" in found
        else 0.0,
        latency_ms=_number("latency-ms", found["latency-ms"], 0.0, MAX_LATENCY_MS)
        if "latency-ms" in found
        else 0.0,
        down_after=down_after,
    )


def _example(key: str) -> str:
    return {"error-rate": "0.3", "latency-ms": "200", "down-after": "100"}[key]


def fault_config(doc: Mapping[str, Any], fault: CandidateFault, candidate: str) -> dict[str, Any]:
    """The demo's gateway config ``doc`` with the fault, the rollout policy and the breaker."""
    out = dict(doc)
    experiments = [dict(e) for e in doc["experiments"]]
    experiments[0]["rollout"] = dict(DEMO_ROLLOUT)
    out["experiments"] = experiments
    out["breaker"] = {**doc.get("breaker", {}), "cooldown_s": BREAKER_COOLDOWN_S}
    down_now = fault.down_after == 0
    if fault.error_rate or fault.latency_ms or down_now:
        out["faults"] = {**doc.get("faults", {}), candidate: fault.settings(down=down_now)}
    return out


@dataclass(frozen=True)
class FaultCheck:
    """One expected outcome of a fault run: whether it happened, and whether it had to."""

    name: str
    required: bool
    """False: reported for information, the run does not fail on it."""
    passed: bool
    """It happened."""
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "required": self.required,
            "passed": self.passed,
            "detail": self.detail,
        }


def _first(rows: Sequence[Mapping[str, Any]], **match: Any) -> Mapping[str, Any] | None:
    return next((r for r in rows if all(r.get(k) == v for k, v in match.items())), None)


def fault_checks(
    fault: CandidateFault, timeline: Mapping[str, Any], *, requests: int, failures: int
) -> list[FaultCheck]:
    """The expected outcomes of a fault run, judged on its timeline (see :mod:`.timeline`)."""
    candidate = timeline["candidate"]
    s = timeline["summary"]
    fallbacks = s["fallbacks"]
    answered = f"{requests - failures} of {requests} requests answered"
    if fallbacks:
        answered += f", {fallbacks} of them by the fallback"
    checks = [
        FaultCheck(
            "client success 100%",
            True,
            failures == 0,
            answered + (f"; {failures} failed" if failures else ""),
        )
    ]
    checks.append(
        FaultCheck(
            "fallbacks served",
            fault.can_fail,
            fallbacks > 0,
            f"{fallbacks} answers by the default model in place of {candidate}",
        )
    )
    opened = _first(timeline["breaker"], model=candidate, to="open")
    injected_s = s["down_injected_s"]
    if opened is None:
        detail, ok = f"the breaker of {candidate} stayed closed", False
    else:
        detail = (
            f"opened at {opened['t_s']:.2f} s ({opened['reason']}); {s['breaker_opened']} "
            "time(s) in all"
        )
        ok = True
        if fault.down_after is not None:
            ok = injected_s is not None and opened["t_s"] >= injected_s
            when = "no injection" if injected_s is None else f"injected at {injected_s:.2f} s"
            detail += f"; candidate down after {fault.down_after} requests ({when})"
    checks.append(FaultCheck("breaker opened", fault.breaker_expected, ok, detail))
    rolled = _first(timeline["rollout"], action="rollback")
    weight = s["candidate_weight_final"]
    if rolled is not None and weight == 0:
        detail = f"at {rolled['t_s']:.2f} s, {rolled['reason']}; candidate weight now 0"
    else:
        detail = (
            f"rollout {s['rollout_phase'] or 'unknown'}, candidate weight {weight:g}%: the "
            "evidence did not settle within this run (a milder fault needs more requests)"
        )
    checks.append(
        FaultCheck("rollout rolled back", True, rolled is not None and weight == 0, detail)
    )
    return checks
