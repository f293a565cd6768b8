"""What happened during a run, on one clock: breaker states, weights, rollout, fallbacks.

Two sources meet here. The gateway's admin events (``breaker`` transitions, ``weight_change``,
``rollout`` decisions, ``faults`` injected at run time, ``experiment_config`` at start), read
from its event log, carry wall-clock times (``time.time()`` on the same machine). The client's
per-request outcomes carry seconds since the load started. :func:`build_timeline` puts both on
the second scale, ``t_s = ts − t0`` with ``t0`` the wall-clock start of the load, so events at
gateway start come out negative.

:func:`exposure_weights` answers the question the sample-ratio check needs when weights change
mid-run: which split should the requests have followed? Each request counts with the weights in
force when it was sent, so a run that was 70/30 for 300 requests and 100/0 for 200 expects
82/18 overall.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from abgate.events.export import export_events
from abgate.loadgen.client import Outcome

WeightSteps = Sequence[tuple[float, Mapping[str, float]]]
"""``(t_s, weights)`` in time order: the weights in force from ``t_s`` on."""

BIN_WIDTHS = (0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MAX_BINS = 60


def read_admin_events(db_path: str | Path) -> list[dict[str, Any]]:
    """Every admin event of the log in ``seq`` order, payload decoded (``abgate events export``)."""
    buffer = io.StringIO()
    export_events(db_path, "jsonl", buffer, kind="admin")
    rows = [orjson.loads(line) for line in buffer.getvalue().splitlines() if line]
    for row in rows:
        row["payload"] = orjson.loads(row["payload"])
    return rows


def sent_s(outcome: Outcome) -> float:
    """When the request left the client (closed loop) or was due (open loop), since the start."""
    return max(0.0, outcome.finished_s - outcome.latency_ms / 1000.0)


def weight_steps_from_history(
    history: Iterable[Mapping[str, Any]], t0: float
) -> list[tuple[float, dict[str, float]]]:
    """Weight steps from the rollout ``history`` of ``GET /v2/experiments/{name}``."""
    return [
        (float(h["ts"]) - t0, {str(k): float(v) for k, v in h["weights"].items()})
        for h in history
        if isinstance(h.get("weights"), Mapping)
    ]


def weights_at(steps: WeightSteps, t_s: float, initial: Mapping[str, float]) -> Mapping[str, float]:
    """The weights in force at ``t_s``."""
    current = initial
    for start, weights in steps:
        if start > t_s:
            break
        current = weights
    return current


def exposure_weights(
    steps: WeightSteps, send_times: Iterable[float], initial: Mapping[str, float]
) -> dict[str, float]:
    """Per arm, its share in percent under the weights in force when each request was sent,
    averaged over the requests: the split the requests should have followed.

    ``initial`` (as percentages) when no request was sent yet, or when an arm would get no
    expected traffic at all (it cannot be tested then).
    """
    totals = dict.fromkeys(initial, 0.0)
    ordered = sorted(steps, key=lambda s: s[0])
    n = 0
    for t in send_times:
        weights = weights_at(ordered, t, initial)
        total = sum(float(weights.get(a, 0.0)) for a in totals)
        if total <= 0:
            continue
        n += 1
        for arm in totals:
            totals[arm] += float(weights.get(arm, 0.0)) / total
    if n == 0 or not all(v > 0 for v in totals.values()):
        total = sum(initial.values())
        return {a: round(100.0 * float(w) / total, 6) for a, w in initial.items()}
    return {a: round(100.0 * v / n, 6) for a, v in totals.items()}


def bin_width(end_s: float) -> float:
    """The smallest round width that cuts ``end_s`` seconds into at most 60 bins."""
    return next((w for w in BIN_WIDTHS if end_s / w <= MAX_BINS), BIN_WIDTHS[-1])


def _series(outcomes: Sequence[Outcome], models: Sequence[str], end_s: float) -> dict[str, Any]:
    width = bin_width(end_s)
    count = max(1, math.ceil(end_s / width - 1e-9))
    served = {m: [0] * count for m in models}
    fallbacks = [0] * count
    failures = [0] * count
    for o in outcomes:
        i = min(count - 1, int(o.finished_s // width))
        if o.model is None or o.probability is None:
            failures[i] += 1
        elif o.assignment == "fallback":
            fallbacks[i] += 1
        elif o.model in served:
            served[o.model][i] += 1
    return {
        "bin_s": width,
        "start_s": [round(i * width, 6) for i in range(count)],
        "served": served,
        "fallbacks": fallbacks,
        "failures": failures,
    }


def _answered_before(outcomes: Sequence[Outcome], t_s: float | None) -> int | None:
    if t_s is None:
        return None
    return sum(1 for o in outcomes if o.finished_s <= t_s)


def build_timeline(
    events: Sequence[Mapping[str, Any]],
    outcomes: Sequence[Outcome],
    *,
    t0: float,
    end_s: float,
    experiment: str,
    baseline: str,
    candidate: str,
    config_faults: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The run's timeline as JSON-ready data (``timeline`` in ``report.schema.json``).

    ``events``: admin events as :func:`read_admin_events` returns them; ``outcomes``: every
    request as the client saw it; ``t0``: wall-clock start of the load; ``end_s``: seconds
    until the run ended (the load, plus any wait for the controller); ``config_faults``: faults
    the experiment YAML set from gateway start (they are not admin events).
    """
    models = (baseline, candidate)
    weights: list[dict[str, Any]] = []
    breaker: list[dict[str, Any]] = []
    rollout: list[dict[str, Any]] = []
    faults: list[dict[str, Any]] = []
    start_s: float | None = None
    for e in events:
        t, kind, p = round(float(e["ts"]) - t0, 6), e["kind"], e["payload"]
        mine = e.get("experiment") == experiment
        if kind == "experiment_config" and mine:
            start_s = t if start_s is None else start_s
            weights.append({"t_s": t, "weights": p["weights"], "actor": "config", "reason": None})
        elif kind == "weight_change" and mine:
            weights.append(
                {"t_s": t, "weights": p["new"], "actor": p.get("actor"), "reason": p.get("reason")}
            )
        elif kind == "rollout" and mine:
            rollout.append(
                {
                    "t_s": t,
                    "action": p["action"],
                    "reason": p["reason"],
                    "actor": p.get("actor"),
                    "phase": p["phase"],
                    "step": p["step"],
                    "candidate_weight": float(p["weights"].get(candidate, 0.0)),
                }
            )
        elif kind == "breaker" and p.get("model") in models:
            breaker.append(
                {
                    "t_s": t,
                    "model": p["model"],
                    "from": p["from"],
                    "to": p["to"],
                    "reason": p["reason"],
                }
            )
        elif kind == "faults" and p.get("model") in models:
            faults.append({"t_s": t, "source": "admin", **_fault_fields(p)})
    for model, settings in (config_faults or {}).items():
        at = start_s if start_s is not None else 0.0
        faults.insert(
            0, {"t_s": at, "source": "config", **_fault_fields({**settings, "model": model})}
        )

    down = next((f for f in faults if f["model"] == candidate and f["down"]), None)
    opened = [b for b in breaker if b["model"] == candidate and b["to"] == "open"]
    rolled = next((r for r in rollout if r["action"] == "rollback"), None)
    final_weights = weights[-1]["weights"] if weights else {}
    down_s = down["t_s"] if down is not None else None
    opened_s = opened[0]["t_s"] if opened else None
    summary = {
        "fallbacks": sum(1 for o in outcomes if o.assignment == "fallback"),
        "failures": sum(1 for o in outcomes if o.probability is None),
        "breaker_opened": len(opened),
        "breaker_first_open_s": opened_s,
        "breaker_first_open_after_requests": _answered_before(outcomes, opened_s),
        "down_injected_s": down_s,
        "down_injected_after_requests": _answered_before(outcomes, down_s),
        "rollout_phase": rollout[-1]["phase"] if rollout else None,
        "rolled_back_s": rolled["t_s"] if rolled is not None else None,
        "rolled_back_after_requests": _answered_before(
            outcomes, rolled["t_s"] if rolled is not None else None
        ),
        "candidate_weight_final": float(final_weights.get(candidate, 0.0)),
    }
    return {
        "t0": t0,
        "end_s": round(end_s, 6),
        "experiment": experiment,
        "baseline": baseline,
        "candidate": candidate,
        "weights": weights,
        "breaker": breaker,
        "rollout": rollout,
        "faults": faults,
        "series": _series(outcomes, models, end_s),
        "summary": summary,
    }


def _fault_fields(p: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "model": p.get("model"),
        "error_rate": float(p.get("error_rate", 0.0)),
        "latency_ms": float(p.get("latency_ms", 0.0)),
        "down": bool(p.get("down", False)),
    }


def weight_steps(timeline: Mapping[str, Any]) -> list[tuple[float, dict[str, float]]]:
    """The weight steps of a built timeline."""
    return [
        (float(w["t_s"]), {str(k): float(v) for k, v in w["weights"].items()})
        for w in timeline["weights"]
    ]
