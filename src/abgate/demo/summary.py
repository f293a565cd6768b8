"""The end of a run in words: a headline, a plain-language recommendation, a terminal summary.

The wording follows the decision rule of :mod:`abgate.stats.decision` and never claims more
than it found: when the always-valid confidence sequence still contains zero, it says there is
no significant difference, however large the point estimate looks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from abgate.demo.faults import FaultCheck
from abgate.loadgen.arms import ExperimentArms
from abgate.loadgen.tally import ClientTally, TallyCheck, format_check
from abgate.stats import ExperimentAnalysis, Verdict
from abgate.stats.analysis import Comparison

VERDICT_STYLE = {"promote": "bold green", "rollback": "bold red", "invalid": "bold red"}


def pts(value: float | None, signed: bool = True) -> str:
    """A difference of proportions in percentage points: ``+1.2`` (``±∞`` when unbounded)."""
    if value is None or not math.isfinite(value):
        return "∞" if value is None or value > 0 else "-∞"
    return f"{value * 100:+.1f}" if signed else f"{value * 100:.1f}"


def interval(lower: float | None, upper: float | None) -> str:
    if lower is None or upper is None or not (math.isfinite(lower) and math.isfinite(upper)):
        return "[unbounded]"
    return f"[{pts(lower)}, {pts(upper)}] pts"


def _primary(analysis: ExperimentAnalysis) -> Comparison | None:
    return analysis.comparisons[0] if analysis.comparisons else None


def headline(analysis: ExperimentAnalysis) -> str:
    """One line: what the verdict means."""
    decision = analysis.decision
    c = decision.candidate
    if decision.verdict is Verdict.PROMOTE:
        return f"promote {c}: significantly more accurate, guardrails hold"
    if decision.verdict is Verdict.ROLLBACK:
        worse = any(r.startswith("primary_worse") for r in decision.reasons)
        return f"roll back {c}: " + (
            "significantly less accurate" if worse else "a guardrail is significantly harmed"
        )
    if decision.verdict is Verdict.INVALID:
        return "invalid: the traffic split does not match the weights (sample ratio mismatch)"
    comparison = _primary(analysis)
    if comparison is not None and comparison.sequential.n < comparison.sequential.burn_in:
        return (
            f"too early: {comparison.sequential.n} of {comparison.sequential.burn_in} scored "
            "predictions needed before testing"
        )
    return "no significant difference in accuracy"


def recommendation(analysis: ExperimentAnalysis) -> str:
    """A short paragraph for a stakeholder: what was found and what to do."""
    decision = analysis.decision
    comparison = _primary(analysis)
    if comparison is None:
        return "There is no candidate to compare with the baseline."
    base, cand = analysis.baseline, comparison.candidate
    seq = comparison.sequential
    found = (
        f"The accuracy difference ({cand} − {base}) is {pts(seq.estimate)} points; its "
        f"always-valid 95% confidence sequence is {interval(seq.lower, seq.upper)} "
        f"(always-valid p = {comparison.sequential_p_adjusted:.3f})."
    )
    if decision.verdict is Verdict.INVALID:
        return (
            f"Do not act on this run. The observed split differs from the configured weights "
            f"(SRM χ² p = {analysis.srm.p_value:.2g}), so the comparison cannot be trusted; "
            "check the router and the clients' unit keys first."
        )
    if decision.verdict is Verdict.PROMOTE:
        return (
            f"{found} Promote {cand}: it is significantly more accurate and no guardrail is harmed."
        )
    if decision.verdict is Verdict.ROLLBACK:
        why = ", ".join(decision.reasons)
        return f"{found} Roll back {cand} and keep {base} serving ({why})."
    if seq.n < seq.burn_in:
        return (
            f"Only {seq.n} scored predictions so far; the test starts after {seq.burn_in}. "
            f"Keep {base} serving and run longer."
        )
    text = (
        f"No significant difference. {found} Zero is inside the interval, so the data cannot "
        f"tell {cand} from {base}. Keep {base} serving."
    )
    mde = analysis.config.get("min_detectable_effect", 0.02)
    if any(r.startswith("mde_reached") for r in decision.reasons):
        text += (
            f" The run already had the planned power for a {mde * 100:g}-point difference, so "
            "any real difference is probably smaller than that."
        )
    elif decision.samples_needed:
        text += (
            f" To detect a {mde * 100:g}-point difference with the planned power, about "
            f"{decision.samples_needed:,} more requests are needed."
        )
    return text


def _guardrail_lines(analysis: ExperimentAnalysis, comparison: Comparison) -> list[str]:
    errors = {a.name: a.error_rate.estimate for a in analysis.arms}
    lines = []
    for g in comparison.guardrails:
        if g.name == "error_rate":
            what = (
                f"error rate {errors.get(comparison.candidate, 0.0):.1%} vs "
                f"{errors.get(analysis.baseline, 0.0):.1%}; increase bounded by "
                f"{interval(g.lower, g.upper)} (margin {pts(g.threshold)} pts)"
            )
        else:
            what = (
                f"p95 ratio {g.estimate:.2f} [{g.lower:.2f}, {g.upper:.2f}] "
                f"(limit {g.threshold:.2f})"
            )
        lines.append(f"Guardrail {g.name}: {g.status.value} — {what}")
    return lines


def render_summary(
    analysis: ExperimentAnalysis,
    arms: ExperimentArms,
    tally: ClientTally,
    check: TallyCheck,
    *,
    reports: Sequence[Path] = (),
) -> RenderableType:
    """The final terminal summary (pure)."""
    table = Table(title="Result per model", title_justify="left")
    for col in ("model", "requests", "share (target)", "accuracy [95% CI]", "p50 / p95 ms"):
        table.add_column(col, justify="left" if col == "model" else "right")
    table.add_column("strategy bps/trade", justify="right")
    answered = tally.answered or 1
    for arm in analysis.arms:
        t = tally.models.get(arm.name)
        n = t.answered if t else 0
        acc = arm.accuracy
        table.add_row(
            f"{arm.name} ({'baseline' if arm.name == analysis.baseline else 'candidate'})",
            f"{n:,}",
            f"{n / answered:.1%} ({arms.target_share(arm.name):.0%})",
            f"{acc.estimate:.1%} [{acc.lower:.1%}, {acc.upper:.1%}]",
            f"{arm.latency_p50:.1f} / {arm.latency_p95:.1f}",
            f"{arm.returns_mean * 1e4:+.1f}",
        )
    lines: list[str] = []
    comparison = _primary(analysis)
    if comparison is not None:
        d, seq = comparison.accuracy_difference, comparison.sequential
        lines.append(
            f"Accuracy difference ({comparison.candidate} − {analysis.baseline}): "
            f"{pts(d.estimate)} pts; fixed-horizon 95% CI {interval(d.lower, d.upper)}; "
            f"always-valid 95% CS {interval(seq.lower, seq.upper)}, "
            f"always-valid p = {comparison.sequential_p_adjusted:.3f}"
        )
        r = comparison.returns
        lines.append(
            f"Strategy return difference: {r.estimate * 1e4:+.1f} bps per trade, 95% CI "
            f"[{r.lower * 1e4:+.1f}, {r.upper * 1e4:+.1f}] (Welch, p = {r.p_value:.2f})"
            if math.isfinite(r.lower)
            else "Strategy return difference: not enough data"
        )
        lines += _guardrail_lines(analysis, comparison)
    srm = analysis.srm
    lines.append(
        f"Traffic split (SRM χ²): {'healthy' if srm.healthy else 'MISMATCH'}, "
        f"p = {srm.p_value:.3g} (flagged below {srm.threshold:g})"
    )
    sticky = tally.sticky_summary()
    lines.append(
        f"Sticky sessions: {sticky['returning']:,} of {sticky['accounts']:,} accounts returned, "
        f"{sticky['switched']} switched variant"
    )
    lines.append(format_check(check))
    if tally.failures:
        lines.append(
            f"Failures: {tally.failures} of {tally.sent} requests ({tally.error_rate:.2%})"
        )
    verdict = analysis.decision.verdict.value
    panel = Panel(
        Text(recommendation(analysis)),
        title=f"Verdict: {verdict.upper()} — {headline(analysis)}",
        title_align="left",
        border_style=VERDICT_STYLE.get(verdict, "yellow"),
    )
    parts: list[RenderableType] = [table, Text("\n".join(lines)), panel]
    if reports:
        parts.append(Text("Report: " + ", ".join(str(p) for p in reports)))
    return Group(*parts)


def check_mark(check: FaultCheck) -> str:
    """``✓`` happened, ``✗`` required but did not happen, ``·`` for information only."""
    if check.passed:
        return "✓"
    return "✗" if check.required else "·"


def render_fault_summary(
    spec: str, timeline: Mapping[str, Any], checks: Sequence[FaultCheck]
) -> RenderableType:
    """The fault run's expected outcomes, each marked, and what the timeline recorded (pure)."""
    s = timeline["summary"]
    text = Text()
    for c in checks:
        style = "green" if c.passed else ("bold red" if c.required else "dim")
        text.append(f"{check_mark(c)} {c.name}", style=style)
        text.append(f"{'' if c.required else ' (not required)'}: {c.detail}\n")
    text.append(
        f"Timeline: {len(timeline['breaker'])} breaker transitions, "
        f"{len(timeline['rollout'])} rollout decisions, {s['fallbacks']} fallbacks; candidate "
        f"weight now {s['candidate_weight_final']:g}%, rollout {s['rollout_phase'] or '–'}"
    )
    ok = all(c.passed for c in checks if c.required)
    return Panel(
        text,
        title=f"Fault injection: {spec} on {timeline['candidate']} — "
        + ("expected outcome observed" if ok else "EXPECTED OUTCOME NOT OBSERVED"),
        title_align="left",
        border_style="green" if ok else "bold red",
    )
