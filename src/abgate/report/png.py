"""The stakeholder picture: one 1600-pixel-wide PNG drawn from the JSON report.

Seven panels on a constrained-layout grid (matplotlib's layout engine keeps labels apart):
traffic split actual vs target · accuracy per model with 95% Wilson intervals · the verdict ·
the accuracy difference over time with its always-valid confidence sequence (and, for contrast,
the fixed-horizon interval that is not safe to peek at) · latency distribution per model ·
cumulative strategy return per model on the days it served · accuracy by market regime.

A fault run (or any run in which the breaker, the weights or a fallback moved) gets a second
row, the timeline of :mod:`abgate.report.timeline` with the expected outcomes beside it, and
the picture grows to 1600 × 1500; otherwise it stays 1600 × 1100.

Headless: the Agg canvas and the object API, no pyplot and no global state.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from abgate.report.json import timeline_eventful
from abgate.report.timeline import draw_fault_checks, draw_timeline

WIDTH_PX = 1600
HEIGHT_PX = 1100
TIMELINE_PX = 400
DPI = 100
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
VERDICT_COLORS = {"promote": "#2ca02c", "rollback": "#d62728", "invalid": "#d62728"}


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def _traffic(ax: Axes, models: Sequence[Mapping[str, Any]]) -> None:
    y = np.arange(len(models))
    actual = [m["share"] * 100 for m in models]
    target = [m["target_share"] * 100 for m in models]
    ax.barh(y - 0.18, actual, 0.36, color=[_color(i) for i in range(len(models))], label="actual")
    ax.barh(y + 0.18, target, 0.36, color="#bbbbbb", label="target")
    for yi, a, t in zip(y, actual, target, strict=True):
        ax.text(a + 1, yi - 0.18, f"{a:.1f}%", va="center", fontsize=9)
        ax.text(t + 1, yi + 0.18, f"{t:.0f}%", va="center", fontsize=9, color="#555555")
    ax.set_yticks(y, [m["name"] for m in models])
    ax.invert_yaxis()
    ax.set_xlim(0, 115)
    ax.set_xlabel("share of answered requests (%)")
    ax.set_title("Traffic split: actual vs target")
    ax.legend(loc="lower right", fontsize=8)


def _accuracy(ax: Axes, models: Sequence[Mapping[str, Any]]) -> None:
    for i, m in enumerate(models):
        acc = m["accuracy"]
        if not m["scored"]:
            continue
        err = [[(acc["estimate"] - acc["lower"]) * 100], [(acc["upper"] - acc["estimate"]) * 100]]
        ax.errorbar(i, acc["estimate"] * 100, yerr=err, fmt="o", color=_color(i), capsize=8, ms=8)
        ax.annotate(
            f"{acc['estimate']:.1%}\nn={m['scored']}",
            (i, acc["upper"] * 100),
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            fontsize=9,
        )
    ax.axhline(50, color="#888888", ls=":", lw=1, label="coin flip (50%)")
    ax.set_xticks(range(len(models)), [m["name"] for m in models])
    ax.set_xlim(-0.6, len(models) - 0.4)
    lows = [m["accuracy"]["lower"] * 100 for m in models if m["scored"]] or [40.0]
    highs = [m["accuracy"]["upper"] * 100 for m in models if m["scored"]] or [60.0]
    ax.set_ylim(min(min(lows), 45) - 3, max(max(highs), 55) + 8)
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy per model (95% Wilson interval)")
    ax.legend(loc="lower right", fontsize=8)


def _verdict(ax: Axes, report: Mapping[str, Any]) -> None:
    ax.set_axis_off()
    v = report["verdict"]
    color = VERDICT_COLORS.get(v["verdict"], "#b8860b")
    d = v["accuracy_difference"]

    def pts(x: float | None) -> str:
        return "unbounded" if x is None else f"{x * 100:+.1f}"

    p = v["always_valid_p"]
    facts = [
        f"Accuracy difference: {pts(d['estimate'])} pts",
        f"Always-valid 95% CS: [{pts(d['cs_lower'])}, {pts(d['cs_upper'])}] pts",
        f"Always-valid p-value: {'–' if p is None else f'{p:.3f}'}",
        f"Traffic split (SRM): {'healthy' if v['srm_healthy'] else 'MISMATCH'}",
        f"Requests: {report['traffic']['requests']:,}, failures {report['traffic']['failures']}",
    ]
    check = report["tally_check"]
    if check["available"]:
        facts.append(f"Client = gateway tallies: {'yes' if check['agree'] else 'NO'}")
    # Each block hangs below the previous one, so wrapped text can never overlap the next block.
    block = ax.text(
        0.0,
        1.0,
        f"Verdict: {v['verdict'].upper()}",
        fontsize=17,
        weight="bold",
        color=color,
        va="top",
        transform=ax.transAxes,
    )
    for text, size, gap, extra in (
        (textwrap.fill(v["headline"], 48), 11, 4, {}),
        ("\n".join(facts), 10, 8, {"linespacing": 1.45}),
        (
            textwrap.fill(v["recommendation"], 66, max_lines=8, placeholder=" …"),
            8.5,
            8,
            {"color": "#333333"},
        ),
    ):
        block = ax.annotate(
            text,
            xy=(0, 0),
            xycoords=block,
            xytext=(0, -gap),
            textcoords="offset points",
            va="top",
            fontsize=size,
            **extra,
        )


def _history(ax: Axes, report: Mapping[str, Any]) -> None:
    candidate = report["verdict"]["candidate"]
    points = sorted(
        (h for h in report["sequential_history"] if h["candidate"] == candidate),
        key=lambda h: (h["n"], h["kind"] != "checkpoint"),
    )
    baseline = report["experiment"]["baseline"]
    ax.set_title(f"Accuracy difference over time: {candidate} − {baseline}")
    ax.axhline(0, color="#444444", lw=1)
    if points:
        n = np.array([h["n"] for h in points], dtype=float)
        est = np.array([h["estimate"] for h in points]) * 100

        def series(key: str) -> np.ndarray:
            return np.array([np.nan if h[key] is None else h[key] * 100 for h in points])

        ax.fill_between(
            n,
            series("lower"),
            series("upper"),
            color=_color(1),
            alpha=0.2,
            label="always-valid 95% confidence sequence",
        )
        ax.plot(
            n,
            series("fixed_lower"),
            color="#777777",
            ls="--",
            lw=1,
            label="fixed-horizon 95% CI (not valid under peeking)",
        )
        ax.plot(n, series("fixed_upper"), color="#777777", ls="--", lw=1)
        ax.plot(n, est, color=_color(1), lw=2, label="estimate")
        burn_in = report["analysis"]["config"]["burn_in"]
        ax.axvspan(0, min(burn_in, n.max()), color="#eeeeee", zorder=0, label="burn-in")
        finite = np.concatenate(
            [est, series("lower"), series("upper"), series("fixed_lower"), series("fixed_upper")]
        )
        finite = finite[np.isfinite(finite)]
        span = max(float(np.abs(finite).max()) if finite.size else 10.0, 5.0)
        ax.set_ylim(-span * 1.15, span * 1.6)  # headroom for the legend
    ax.set_xlabel("scored predictions (both models)")
    ax.set_ylabel("accuracy difference (points)")
    ax.legend(loc="upper right", fontsize=8, ncols=2)


def _by_model(report: Mapping[str, Any], key: str) -> dict[str, list[Mapping[str, Any]]]:
    rows: dict[str, list[Mapping[str, Any]]] = {m["name"]: [] for m in report["models"]}
    for p in report["predictions"]:
        if p["model"] in rows and p[key] is not None:
            rows[p["model"]].append(p)
    return rows


def _latency(ax: Axes, report: Mapping[str, Any]) -> None:
    data = {m: [p["latency_ms"] for p in ps] for m, ps in _by_model(report, "probability").items()}
    values = [v for v in data.values() if v]
    if values:
        top = float(np.percentile(np.concatenate(values), 99.5))
        bins = np.linspace(0, max(top, 1e-3), 40).tolist()
        for i, (name, lat) in enumerate(data.items()):
            if not lat:
                continue
            p95 = float(np.percentile(lat, 95))
            ax.hist(
                np.clip(lat, 0, top),
                bins=bins,
                density=True,
                histtype="step",
                lw=2,
                color=_color(i),
                label=f"{name} (p95 {p95:.1f} ms)",
            )
            ax.axvline(p95, color=_color(i), ls=":", lw=1)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.3)  # headroom for the legend
    ax.set_xlabel("client-side latency (ms)")
    ax.set_ylabel("density")
    ax.set_title("Latency distribution per model")
    ax.legend(loc="upper right", fontsize=8)


def _returns(ax: Axes, report: Mapping[str, Any]) -> None:
    lows, highs = [0.0], [0.0]
    for i, (name, ps) in enumerate(_by_model(report, "strategy_return").items()):
        if not ps:
            continue
        strategy = np.cumsum([p["strategy_return"] for p in ps]) * 100
        hold = np.cumsum([p["next_return"] for p in ps]) * 100
        x = np.arange(1, len(ps) + 1)
        lows.append(float(min(strategy.min(), hold.min())))
        highs.append(float(max(strategy.max(), hold.max())))
        ax.plot(x, strategy, color=_color(i), lw=2, label=f"{name}: {strategy[-1]:+.1f}%")
        ax.plot(
            x,
            hold,
            color=_color(i),
            lw=1,
            ls="--",
            alpha=0.7,
            label=f"buy & hold, same days: {hold[-1]:+.1f}%",
        )
    ax.axhline(0, color="#444444", lw=1)
    span = max(max(highs) - min(lows), 1.0)
    ax.set_ylim(min(lows) - 0.05 * span, max(highs) + 0.35 * span)  # headroom for the legend
    ax.set_xlabel("trades (one per scored prediction, in the order served)")
    ax.set_ylabel("cumulative return (%, sum of daily)")
    ax.set_title("Cumulative strategy return per model (long/short, 5 bps per trade)")
    ax.legend(loc="upper left", fontsize=8, ncols=2)


def _regimes(ax: Axes, report: Mapping[str, Any]) -> None:
    names = [m["name"] for m in report["models"]]
    regimes = list(dict.fromkeys(r["regime"] for r in report["regimes"]))
    width = 0.8 / max(len(names), 1)
    x = np.arange(len(regimes))
    for i, name in enumerate(names):
        rows = {r["regime"]: r for r in report["regimes"] if r["model"] == name}
        for j, regime in enumerate(regimes):
            r = rows.get(regime)
            if not r or not r["scored"]:
                continue
            xi = x[j] + (i - (len(names) - 1) / 2) * width
            acc = r["accuracy"] * 100
            err = [[acc - r["lower"] * 100], [r["upper"] * 100 - acc]]
            ax.bar(
                xi,
                acc,
                width * 0.9,
                color=_color(i),
                alpha=0.8,
                label=name if j == 0 or name not in ax.get_legend_handles_labels()[1] else None,
            )
            ax.errorbar(xi, acc, yerr=err, color="#333333", capsize=3, lw=1)
            ax.text(xi, 2, f"n={r['scored']}", ha="center", fontsize=7, rotation=90, color="white")
    ax.axhline(50, color="#888888", ls=":", lw=1)
    ax.set_xticks(x, regimes)
    ax.set_ylim(0, 122)
    ax.set_yticks(range(0, 101, 20))
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Accuracy by market regime (95% Wilson)")
    ax.legend(loc="upper center", fontsize=8, ncols=len(names))


def render_png(report: Mapping[str, Any], path: Path) -> Path:
    """Draw ``report`` (the JSON document) to ``path``: 1600 × 1100 pixels, or 1600 × 1500
    with the timeline row."""
    timeline = timeline_eventful(report)
    height = HEIGHT_PX + (TIMELINE_PX if timeline else 0)
    fig = Figure(figsize=(WIDTH_PX / DPI, height / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ratios = [1.25, 1.45, 1.1, 1.1] if timeline else [1.25, 1.1, 1.1]
    grid = fig.add_gridspec(len(ratios), 3, height_ratios=ratios)
    models = report["models"]
    _traffic(fig.add_subplot(grid[0, 0]), models)
    _accuracy(fig.add_subplot(grid[0, 1]), models)
    _verdict(fig.add_subplot(grid[0, 2]), report)
    row = 1
    if timeline:
        draw_timeline(fig, grid[1, :2], report)
        draw_fault_checks(fig.add_subplot(grid[1, 2]), report)
        row = 2
    _history(fig.add_subplot(grid[row, :2]), report)
    _latency(fig.add_subplot(grid[row, 2]), report)
    _returns(fig.add_subplot(grid[row + 1, :2]), report)
    _regimes(fig.add_subplot(grid[row + 1, 2]), report)
    run = report["run"]
    fault = report.get("fault")
    days = f"candidate fault {fault['spec']}" if fault else "on real held-out market days"
    fig.suptitle(
        f"abgate A/B test · {report['experiment']['name']} · {report['traffic']['requests']:,} "
        f"requests {days} · {run['generated_at']}",
        fontsize=14,
        weight="bold",
    )
    fig.savefig(path, dpi=DPI)
    return path
