"""The live terminal view: pure functions of a :class:`~abgate.demo.snapshot.Snapshot`.

:func:`render` returns a rich renderable (progress, per-model table, traffic-split bar, the last
scored predictions, the verdict); :func:`plain_line` is the one-line form for logs when stdout is
not a terminal. Neither reads a clock or does I/O: the run loop owns refreshing.
"""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from abgate.demo.snapshot import GatewayLine, ModelRow, ScoredPrediction, Snapshot, VerdictLine
from abgate.demo.summary import VERDICT_STYLE, interval, pts

ARM_STYLES = ("cyan", "magenta", "yellow", "green", "blue")
BAR_WIDTH = 60
GLYPHS = ("█", "▒", "░", "▓", "▚")


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _direction(value: int) -> str:
    return f"{'UP' if value else 'DOWN'} ({value})"


def prediction_line(p: ScoredPrediction) -> str:
    """``Ground truth: UP (1) · prediction 0.73 → UP (1) · ✅ correct``."""
    mark = "✅ correct" if p.correct else "❌ wrong"
    return (
        f"Ground truth: {_direction(p.truth)} · prediction {p.probability:.2f} → "
        f"{_direction(p.predicted)} · {mark}"
    )


def _progress(s: Snapshot) -> RenderableType:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=40)
    grid.add_column()
    eta = s.eta_s
    eta_text = "–" if eta is None else f"{eta:.1f} s"
    stats = (
        f"{s.done:,}/{s.total:,} requests · {s.rate:,.0f} req/s · "
        f"elapsed {s.elapsed_s:.1f} s · ETA {eta_text} · failures {s.failures}"
    )
    grid.add_row(
        ProgressBar(total=max(s.total, 1), completed=min(s.done, s.total), width=40), stats
    )
    return grid


def _table(rows: tuple[ModelRow, ...]) -> Table:
    table = Table(title_justify="left", expand=False)
    table.add_column("model")
    for col in ("requests", "share (target)", "success", "fallbacks", "accuracy [95% CI]"):
        table.add_column(col, justify="right")
    table.add_column("p50 / p95 / p99 ms", justify="right")
    for i, r in enumerate(rows):
        acc = (
            "–"
            if r.accuracy is None
            else f"{r.accuracy:.1%} [{r.accuracy_lower:.1%}, {r.accuracy_upper:.1%}]"
        )
        table.add_row(
            Text(f"{r.name} ({r.role})", style=ARM_STYLES[i % len(ARM_STYLES)]),
            f"{r.requests:,}",
            f"{r.share:.1%} ({r.target_share:.0%})",
            "–" if r.success_rate is None else f"{r.success_rate:.1%}",
            f"{r.fallbacks:,}",
            acc,
            f"{_ms(r.latency_p50)} / {_ms(r.latency_p95)} / {_ms(r.latency_p99)}",
        )
    return table


def split_bar(rows: tuple[ModelRow, ...], width: int = BAR_WIDTH) -> Text:
    """Actual shares as blocks (one glyph and colour per arm), ``^`` at the target boundaries."""
    bar = Text("actual ")
    used = 0
    for i, r in enumerate(rows):
        cells = round(r.share * width) if i < len(rows) - 1 else width - used
        cells = max(0, min(cells, width - used))
        used += cells
        bar.append(GLYPHS[i % len(GLYPHS)] * cells, style=ARM_STYLES[i % len(ARM_STYLES)])
    bar.append(" " * (width - used) + "  ")
    bar.append(
        " · ".join(f"{GLYPHS[i % len(GLYPHS)]} {r.name} {r.share:.1%}" for i, r in enumerate(rows))
    )
    marks = [" "] * width
    edge = 0.0
    for r in rows[:-1]:
        edge += r.target_share
        marks[min(width - 1, round(edge * width))] = "^"
    bar.append("\ntarget " + "".join(marks) + "  ")
    bar.append(" · ".join(f"{r.name} {r.target_share:.0%}" for r in rows))
    return bar


def _recent(recent: tuple[ScoredPrediction, ...]) -> Text:
    if not recent:
        return Text("no scored predictions yet", style="dim")
    text = Text()
    for i, p in enumerate(recent):
        text.append(("\n" if i else "") + f"{p.ticker} {p.date} {p.model:<20} ", style="dim")
        text.append(prediction_line(p), style="green" if p.correct else "red")
    return text


def _verdict(v: VerdictLine | None) -> RenderableType:
    if v is None:
        return Panel("waiting for the first analysis…", title="Verdict", title_align="left")
    body = (
        f"{v.candidate} − {v.baseline}: accuracy {pts(v.estimate)} pts · always-valid 95% CS "
        f"{interval(v.lower, v.upper)} · always-valid p = {v.p_value:.3f} · "
        f"{v.scored:,} scored (burn-in {v.burn_in})"
    )
    return Panel(
        Text(body),
        title=f"Verdict: {v.verdict.upper()} — {v.headline}",
        title_align="left",
        border_style=VERDICT_STYLE.get(v.verdict, "yellow"),
    )


CIRCUIT_STYLES = {"closed": "green", "open": "bold red", "half_open": "yellow"}


def gateway_text(g: GatewayLine) -> Text:
    """``Fault … · rollout running, candidate 30% · breaker … · fallbacks 12`` (fault runs)."""
    text = Text(f"Fault {g.fault} on {g.candidate}", style="bold")
    if g.down:
        text.append(" (now down)", style="bold red")
    phase = g.rollout_phase or "–"
    weight = "–" if g.candidate_weight is None else f"{g.candidate_weight:g}%"
    text.append(" · rollout ")
    text.append(phase, style="bold red" if phase == "rolled_back" else "")
    text.append(f", candidate weight {weight} · breaker ")
    for i, (model, state) in enumerate(g.circuits):
        text.append((", " if i else "") + f"{model} ")
        text.append(state, style=CIRCUIT_STYLES.get(state, ""))
    text.append(f" · fallbacks {g.fallbacks:,}")
    return text


def render(snapshot: Snapshot) -> RenderableType:
    """The whole live view for one snapshot (pure)."""
    state = "finished" if snapshot.finished else "running"
    title = Text(
        f"abgate A/B demo · experiment {snapshot.experiment} · {snapshot.target} · {state}",
        style="bold",
    )
    parts: list[RenderableType] = [title, _progress(snapshot)]
    if snapshot.gateway is not None:
        parts.append(gateway_text(snapshot.gateway))
    parts += [
        _table(snapshot.models),
        split_bar(snapshot.models),
        Text("Last scored predictions", style="bold"),
        _recent(snapshot.recent),
        _verdict(snapshot.verdict),
    ]
    return Group(*parts)


def plain_line(snapshot: Snapshot) -> str:
    """One progress line for logs: counts, shares, accuracies, verdict."""
    s = snapshot
    pct = s.done / s.total if s.total else 1.0
    parts = [
        f"[{s.elapsed_s:6.1f}s] {s.done}/{s.total} ({pct:.0%}) {s.rate:.0f} req/s "
        f"failures {s.failures}"
    ]
    for r in s.models:
        acc = "–" if r.accuracy is None else f"{r.accuracy:.1%}"
        parts.append(f"{r.name} {r.requests} ({r.share:.1%}/{r.target_share:.0%}) acc {acc}")
    v = s.verdict
    if v is not None:
        p = "–" if math.isnan(v.p_value) else f"{v.p_value:.3f}"
        parts.append(f"verdict {v.verdict} (always-valid p={p})")
    g = s.gateway
    if g is not None:
        weight = "–" if g.candidate_weight is None else f"{g.candidate_weight:g}%"
        circuits = ", ".join(f"{m} {state}" for m, state in g.circuits)
        parts.append(
            f"rollout {g.rollout_phase or '–'} (candidate {weight}) breaker {circuits} "
            f"fallbacks {g.fallbacks}" + (" [candidate down]" if g.down else "")
        )
    return " | ".join(parts)
