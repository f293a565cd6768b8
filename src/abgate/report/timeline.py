"""The report's timeline panel: breaker state per model, candidate weight, answers over time.

Drawn from the report's ``timeline`` (and ``fault``) sections only, on one time axis: seconds
since the load started. Three lanes share it:

- **breaker**: one bar per model, coloured by state (closed, half-open, open);
- **candidate weight**: its share of the weights the router used, as a step line;
- **answers**: per time bin, answers by each model itself, fallback answers (the default model
  answering for a failed candidate call) and client failures, stacked.

Vertical lines mark the candidate going down (``down-after``) and the rollback on every lane.
Beside the lanes, the fault run's expected outcomes with ✓ / ✗. Headless, object API only.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.gridspec import SubplotSpec
from matplotlib.patches import Patch

STATE_COLORS = {"closed": "#a1d99b", "half_open": "#fdae6b", "open": "#de2d26"}
STATE_LABELS = {"closed": "closed", "half_open": "half-open", "open": "open"}
MODEL_COLORS = ("#1f77b4", "#d62728")
FALLBACK_COLOR = "#ff7f0e"
DOWN_COLOR = "#7b3294"
ROLLBACK_COLOR = "#000000"
LEGEND: dict[str, Any] = {"fontsize": 8, "frameon": False, "handlelength": 1.5}


def _segments(
    transitions: Sequence[Mapping[str, Any]], end: float
) -> list[tuple[float, float, str]]:
    """(start, width, state) bars from ``transitions`` of one model, clipped to [0, end]."""
    state, since = "closed", 0.0
    out: list[tuple[float, float, str]] = []
    for t in transitions:
        at = min(max(float(t["t_s"]), 0.0), end)
        if at > since:
            out.append((since, at - since, state))
        state, since = t["to"], at
    if end > since:
        out.append((since, end - since, state))
    return out


def _marks(ax: Axes, marks: Sequence[tuple[float, str, str]]) -> None:
    for t, color, _ in marks:
        ax.axvline(t, color=color, lw=1.5, ls="--", zorder=5)


def _breaker_lane(ax: Axes, timeline: Mapping[str, Any], end: float) -> None:
    models = [timeline["baseline"], timeline["candidate"]]
    for i, model in enumerate(models):
        bars = _segments([b for b in timeline["breaker"] if b["model"] == model], end)
        ax.broken_barh(
            [(s, w) for s, w, _ in bars],
            (i - 0.35, 0.7),
            facecolors=[STATE_COLORS.get(state, "#cccccc") for _, _, state in bars],
            edgecolor="white",
            linewidth=0.5,
        )
    ax.set_yticks(range(len(models)), models)
    ax.set_ylim(len(models) - 0.4, -0.6)
    handles = [Patch(color=c, label=f"breaker {STATE_LABELS[s]}") for s, c in STATE_COLORS.items()]
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), **LEGEND)
    ax.tick_params(labelbottom=False)


def _weight_lane(
    ax: Axes, timeline: Mapping[str, Any], end: float, marks: Sequence[tuple[float, str, str]]
) -> None:
    candidate = timeline["candidate"]
    if timeline["weights"]:
        x, y = [], []
        for w in timeline["weights"]:  # weights are relative: show the candidate's share
            total = sum(float(v) for v in w["weights"].values()) or 1.0
            x.append(min(max(float(w["t_s"]), 0.0), end))
            y.append(100.0 * float(w["weights"].get(candidate, 0.0)) / total)
        x.append(end)
        y.append(y[-1])
        ax.step(x, y, where="post", color=MODEL_COLORS[1], lw=2, label=f"{candidate} weight")
        ax.fill_between(x, y, step="post", color=MODEL_COLORS[1], alpha=0.12)
        ax.set_ylim(-5, max(max(y), 30.0) * 1.35)
    for t, color, label in marks:
        ax.annotate(
            label,
            (t, ax.get_ylim()[1]),
            xytext=(4, -4),
            textcoords="offset points",
            va="top",
            fontsize=8,
            color=color,
        )
    ax.set_ylabel("weight (%)")
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), **LEGEND)
    ax.tick_params(labelbottom=False)


def _answers_lane(ax: Axes, timeline: Mapping[str, Any]) -> None:
    series = timeline["series"]
    x = np.asarray(series["start_s"], dtype=float)
    width = float(series["bin_s"])
    bottom = np.zeros(x.size)
    layers = [
        (f"{model} answered", series["served"].get(model, []), MODEL_COLORS[i % 2])
        for i, model in enumerate((timeline["baseline"], timeline["candidate"]))
    ]
    layers += [
        ("fallback answers", series["fallbacks"], FALLBACK_COLOR),
        ("client failures", series["failures"], "#000000"),
    ]
    for label, values, color in layers:
        y = np.asarray(values, dtype=float)
        if y.size != x.size:
            continue
        ax.bar(x, y, width=width, bottom=bottom, align="edge", color=color, label=label, lw=0)
        bottom += y
    ax.set_ylabel(f"answers per {width:g} s")
    ax.set_xlabel("seconds since the load started")
    ax.set_ylim(0, max(float(bottom.max()) if bottom.size else 1.0, 1.0) * 1.15)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), **LEGEND)


def _marks_of(report: Mapping[str, Any]) -> list[tuple[float, str, str]]:
    s = report["timeline"]["summary"]
    marks = []
    if s["down_injected_s"] is not None:
        after = s["down_injected_after_requests"]
        marks.append(
            (max(s["down_injected_s"], 0.0), DOWN_COLOR, f"candidate down ({after} answered)")
        )
    if s["rolled_back_s"] is not None:
        marks.append((max(s["rolled_back_s"], 0.0), ROLLBACK_COLOR, "rollback"))
    return marks


def draw_timeline(fig: Figure | SubFigure, lanes: SubplotSpec, report: Mapping[str, Any]) -> None:
    """The three lanes in ``lanes`` (a slot of the report's grid)."""
    timeline = report["timeline"]
    end = max(float(timeline["end_s"]), 1e-3)
    grid = lanes.subgridspec(3, 1, height_ratios=[0.8, 1.0, 1.3])
    breaker = fig.add_subplot(grid[0])
    weight = fig.add_subplot(grid[1], sharex=breaker)
    answers = fig.add_subplot(grid[2], sharex=breaker)
    marks = _marks_of(report)
    _breaker_lane(breaker, timeline, end)
    _weight_lane(weight, timeline, end, marks)
    _answers_lane(answers, timeline)
    for ax in (breaker, weight, answers):
        _marks(ax, marks)
    breaker.set_xlim(0, end * 1.01)
    breaker.set_title("Timeline: breaker state · candidate weight · answers")


def draw_fault_checks(ax: Axes, report: Mapping[str, Any]) -> None:
    """The fault run's expected outcomes, ✓ happened / ✗ required and missing / · info."""
    ax.set_axis_off()
    fault, timeline = report.get("fault"), report["timeline"]
    s = timeline["summary"]
    lines: list[tuple[str, str]] = []
    if fault is None:
        title, color = "Timeline", "#333333"
    else:
        ok = fault["passed"]
        title = "Fault run: expected outcome " + ("observed" if ok else "NOT observed")
        color = "#2ca02c" if ok else "#d62728"
        for c in fault["checks"]:
            mark = "✓" if c["passed"] else ("✗" if c["required"] else "·")
            tint = "#2ca02c" if c["passed"] else ("#d62728" if c["required"] else "#777777")
            note = "" if c["required"] else " (not required)"
            lines.append((textwrap.fill(f"{mark} {c['name']}{note}: {c['detail']}", 62), tint))
        policy = fault["rollout_policy"]
        breaker = fault["breaker"]
        lines.append(
            (
                textwrap.fill(
                    f"Rollout: steps {' → '.join(f'{x:g}%' for x in policy['steps'])}, "
                    f"{policy['min_samples']} scored per step, check every "
                    f"{policy['check_interval_s']:g} s. Breaker: opens after "
                    f"{breaker['consecutive_failures']} failures in a row or "
                    f"{breaker['failure_rate']:.0%} of the last {breaker['window']} calls, "
                    f"probes after {breaker['cooldown_s']:g} s.",
                    70,
                ),
                "#555555",
            )
        )
    lines.append(
        (
            f"{len(timeline['breaker'])} breaker transitions · {s['fallbacks']} fallbacks · "
            f"{len(timeline['rollout'])} rollout decisions",
            "#555555",
        )
    )
    block = ax.text(
        0.0, 1.0, title, fontsize=12, weight="bold", color=color, va="top", transform=ax.transAxes
    )
    for text, tint in lines:
        block = ax.annotate(
            text,
            xy=(0, 0),
            xycoords=block,
            xytext=(0, -7),
            textcoords="offset points",
            va="top",
            fontsize=9,
            color=tint,
        )
