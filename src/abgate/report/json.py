"""The demo report as data: every number of a run, in one JSON document.

:func:`build_report` assembles it from the run's pieces; the PNG and Markdown reports are drawn
from this document only, so the three never disagree. The layout is described, and checked in
the tests, by ``report.schema.json``. Non-finite numbers become ``null`` (strict JSON).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from abgate import __version__
from abgate.loadgen import scenarios as sc
from abgate.loadgen.arms import COST_BPS, ExperimentArms, assignments
from abgate.loadgen.tally import ClientTally, TallyCheck
from abgate.stats import ExperimentAnalysis, Proportion
from abgate.stats.proportions import wilson_interval

SCHEMA_ID = "abgate.demo-report/1"


@dataclass(frozen=True)
class RunInfo:
    """How the run was made."""

    generated_at: str
    mode: str
    """``embedded`` (the demo started its own gateway) or ``endpoint``."""
    target: str
    scenarios: int
    workers: int | None
    rate: float | None
    duration_s: float | None
    seed: int
    accounts: int
    requests_planned: int
    wall_s: float
    load_s: float
    max_error_rate: float
    registry: str


def num(value: float | None, digits: int | None = None) -> float | None:
    """A finite float (optionally rounded) or None."""
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits) if digits is not None else float(value)


def _quantiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return dict.fromkeys(("p50", "p95", "p99", "mean", "max"))
    array = np.asarray(values, dtype=np.float64)
    p50, p95, p99 = np.percentile(array, [50, 95, 99]).tolist()
    return {
        "p50": p50,
        "p95": p95,
        "p99": p99,
        "mean": float(array.mean()),
        "max": float(array.max()),
    }


def _models(
    tally: ClientTally, arms: ExperimentArms, gateway_routed: Mapping[str, int] | None
) -> list[dict[str, Any]]:
    routed, failed = assignments(tally, arms, gateway_routed)
    answered = tally.answered
    out = []
    for name in [*arms.weights, *(m for m in tally.models if m not in arms.weights)]:
        t = tally.models.get(name)
        acc = wilson_interval(Proportion(t.correct, t.scored) if t else Proportion(0, 0))
        p = np.asarray(t.probabilities if t else [], dtype=np.float64)
        r = np.asarray(t.next_returns if t else [], dtype=np.float64)
        strategy = np.where(p > 0.5, r, -r) - COST_BPS / 1e4
        out.append(
            {
                "name": name,
                "role": "baseline" if name == arms.baseline else "candidate",
                "version": t.version if t else None,
                "weight": arms.weights.get(name, 0.0),
                "target_share": arms.target_share(name),
                "routed": routed.get(name, 0),
                "answered": t.answered if t else 0,
                "share": (t.answered / answered) if t and answered else 0.0,
                "fallbacks_served": t.fallbacks if t else 0,
                "not_answered_itself": failed.get(name, 0),
                "scored": t.scored if t else 0,
                "correct": t.correct if t else 0,
                "accuracy": {"estimate": acc.estimate, "lower": acc.lower, "upper": acc.upper},
                "latency_ms": _quantiles(t.latencies_ms if t else []),
                "strategy": {
                    "cost_bps": COST_BPS,
                    "trades": int(strategy.size),
                    "mean_return": num(float(strategy.mean())) if strategy.size else None,
                    "total_return": float(strategy.sum()),
                    "buy_and_hold_mean_return": num(float(r.mean())) if r.size else None,
                },
            }
        )
    return out


def _regimes(tally: ClientTally) -> list[dict[str, Any]]:
    out = []
    for regime in sc.Regime:
        for name, t in tally.models.items():
            scored, correct = t.regimes.get(regime, (0, 0))
            acc = wilson_interval(Proportion(correct, scored))
            out.append(
                {
                    "regime": regime.value,
                    "model": name,
                    "scored": scored,
                    "correct": correct,
                    "accuracy": acc.estimate if scored else None,
                    "lower": acc.lower,
                    "upper": acc.upper,
                }
            )
    return out


def _predictions(tally: ClientTally) -> list[dict[str, Any]]:
    rows = []
    for o in tally.outcomes:
        s = o.planned.scenario
        strategy = None
        if o.probability is not None:
            strategy = (s.next_return if o.probability > 0.5 else -s.next_return) - COST_BPS / 1e4
        rows.append(
            {
                "seq": o.planned.seq,
                "id": o.planned.request_id,
                "account": o.planned.account,
                "ticker": s.ticker,
                "date": s.date,
                "regime": s.regime.value,
                "truth": s.truth,
                "next_return": s.next_return,
                "status": o.status,
                "model": o.model,
                "version": o.version,
                "assignment": o.assignment,
                "fallback_reason": o.fallback_reason,
                "probability": o.probability,
                "predicted": o.predicted,
                "correct": o.correct,
                "strategy_return": strategy,
                "latency_ms": round(o.latency_ms, 4),
                "finished_s": round(o.finished_s, 4),
                "error": o.error,
            }
        )
    return rows


def build_report(
    *,
    run: RunInfo,
    arms: ExperimentArms,
    tally: ClientTally,
    analysis: ExperimentAnalysis,
    history: Sequence[Mapping[str, Any]],
    check: TallyCheck,
    headline: str,
    recommendation: str,
    routed: Mapping[str, int] | None = None,
    fault: Mapping[str, Any] | None = None,
    timeline: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Every number of the run as strict-JSON-ready data (see ``report.schema.json``).

    ``routed`` is the gateway's count of requests routed to each arm when known (see
    :mod:`abgate.loadgen.arms`); the report says which source it used. ``timeline`` (breaker
    states, weights, rollout decisions, fallbacks over time; :mod:`abgate.demo.timeline`) is
    known when the demo ran its own gateway; ``fault`` describes a fault-injection run and its
    expected outcomes (:mod:`abgate.demo.faults`). Both are null otherwise.
    """
    comparison = analysis.comparisons[0] if analysis.comparisons else None
    seq = comparison.sequential if comparison else None
    diff = comparison.accuracy_difference if comparison else None
    load_s = run.load_s if run.load_s > 0 else float("nan")
    return {
        "schema": SCHEMA_ID,
        "abgate_version": __version__,
        "run": asdict(run),
        "experiment": {"name": arms.name, "baseline": arms.baseline, "weights": dict(arms.weights)},
        "verdict": {
            "verdict": analysis.decision.verdict.value,
            "headline": headline,
            "recommendation": recommendation,
            "reasons": list(analysis.decision.reasons),
            "candidate": comparison.candidate if comparison else None,
            "promoted_or_rolled_back": analysis.decision.candidate,
            "samples_needed": analysis.decision.samples_needed,
            "always_valid_p": comparison.sequential_p_adjusted if comparison else None,
            "accuracy_difference": {
                "estimate": diff.estimate if diff else None,
                "ci_lower": num(diff.lower) if diff else None,
                "ci_upper": num(diff.upper) if diff else None,
                "cs_lower": num(seq.lower) if seq else None,
                "cs_upper": num(seq.upper) if seq else None,
            },
            "srm_healthy": analysis.srm.healthy,
        },
        "traffic": {
            "requests": tally.sent,
            "answered": tally.answered,
            "failures": tally.failures,
            "error_rate": tally.error_rate,
            "failure_reasons": dict(tally.failure_reasons),
            "throughput_rps": num(tally.sent / load_s),
            "routing_counted_by": "client" if routed is None else "gateway",
        },
        "models": _models(tally, arms, routed),
        "regimes": _regimes(tally),
        "regime_thresholds": {
            "trailing_days": sc.TRAILING_DAYS,
            "high_volatility_annualised": sc.HIGH_VOLATILITY,
            "trend_return": sc.TREND,
        },
        "sticky": tally.sticky_summary(),
        "feedback": {
            "sent": tally.feedback_sent,
            "accepted": tally.feedback_accepted,
            "rejected": tally.feedback_rejected,
            "lost": tally.feedback_lost,
        },
        "tally_check": {
            "available": check.available,
            "agree": check.agree,
            "note": check.note,
            "rows": [{**asdict(r), "agree": r.agree} for r in check.rows],
        },
        "sequential_history": [dict(h) for h in history],
        "analysis": analysis.to_dict(),
        "fault": dict(fault) if fault is not None else None,
        "timeline": dict(timeline) if timeline is not None else None,
        "predictions": _predictions(tally),
    }


def timeline_eventful(report: Mapping[str, Any]) -> bool:
    """Whether the report's timeline is worth showing: a fault run, or a run in which the
    breaker, the weights or a fallback moved (a plain run shows none of it)."""
    timeline = report.get("timeline")
    if not timeline:
        return False
    if report.get("fault") is not None:
        return True
    distinct = {tuple(sorted(w["weights"].items())) for w in timeline["weights"]}
    return bool(
        timeline["breaker"]
        or timeline["rollout"]
        or timeline["faults"]
        or len(distinct) > 1
        or timeline["summary"]["fallbacks"]
    )


def write_json(report: Mapping[str, Any], path: Path) -> Path:
    """Write ``report`` as indented strict JSON (NaN and ±inf become null)."""
    path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY))
    return path
