"""``abgate analyze``: the statistics engine over an event log, and the decision."""

from __future__ import annotations

import json
import math

import click
import numpy as np
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from abgate.errors import StoreError
from abgate.events.factory import event_log_exists, list_experiments, load_experiment
from abgate.events.summaries import ExperimentData
from abgate.stats import AnalysisConfig, ExperimentAnalysis, analyze_experiment


def _pct(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x:.1%}"


def _pp(x: float) -> str:
    return "—" if not math.isfinite(x) else f"{x * 100:+.2f} pp"


def render_analysis(data: ExperimentData, analysis: ExperimentAnalysis) -> Group:
    """Pure render: per-variant table, comparisons, SRM, decision (tested as plain text)."""
    arms = Table(title=f"Experiment {data.experiment}", title_justify="left")
    for col in (
        "variant",
        "weight",
        "assigned",
        "error rate",
        "scored",
        "accuracy (95% CI)",
        "p50 ms",
        "p95 ms",
        "return/pred",
    ):
        arms.add_column(col, justify="left" if col == "variant" else "right")
    total_w = sum(data.weights.values()) or 1.0
    for arm in analysis.arms:
        acc = arm.accuracy
        scored = data.arms[arm.name].accuracy.trials
        role = " (baseline)" if arm.name == analysis.baseline else ""
        arms.add_row(
            arm.name + role,
            f"{data.weights.get(arm.name, 0.0) / total_w:.0%}",
            f"{arm.assignments:,}",
            _pct(arm.error_rate.estimate),
            f"{scored:,}",
            f"{_pct(acc.estimate)} ({_pct(acc.lower)}–{_pct(acc.upper)})" if scored else "—",
            f"{arm.latency_p50:.2f}" if arm.latency_n else "—",
            f"{arm.latency_p95:.2f}" if arm.latency_n else "—",
            f"{arm.returns_mean * 1e4:+.1f} bps" if arm.returns_n else "—",
        )
    comps = Table(title="Candidate − baseline", title_justify="left")
    for col in (
        "candidate",
        "accuracy diff",
        "always-valid CS",
        "always-valid p",
        "fixed-horizon p",
        "P(better)",
        "guardrails",
    ):
        comps.add_column(col, justify="left" if col in ("candidate", "guardrails") else "right")
    for c in analysis.comparisons:
        seq = c.sequential
        guards = ", ".join(f"{g.name}: {g.status.value}" for g in c.guardrails)
        comps.add_row(
            c.candidate,
            _pp(c.accuracy_difference.estimate),
            f"[{_pp(seq.lower)}, {_pp(seq.upper)}]",
            f"{c.sequential_p_adjusted:.3f}",
            f"{c.accuracy_p_adjusted:.3f}",
            f"{c.accuracy_bayes.prob_candidate_better:.1%}",
            guards,
        )
    srm = analysis.srm
    srm_line = Text(
        f"Sample ratio: χ² = {srm.statistic:.2f}, p = {srm.p_value:.3g} → "
        f"{'healthy' if srm.healthy else 'MISMATCH'} (threshold {srm.threshold:g})",
        style="green" if srm.healthy else "bold red",
    )
    d = analysis.decision
    colour = {"promote": "bold green", "rollback": "bold red", "invalid": "bold red"}.get(
        d.verdict.value, "bold yellow"
    )
    verdict = Text(f"Verdict: {d.verdict.value.upper()}", style=colour)
    reasons = Text("Reasons: " + ", ".join(d.reasons))
    parts: list[RenderableType] = [arms, comps, srm_line, verdict, reasons]
    if d.samples_needed:
        parts.append(Text(f"Estimated further requests needed: {d.samples_needed:,}"))
    if data.weights_source != "recorded":
        parts.append(Text("Note: weights inferred from assignment propensities", style="dim"))
    return Group(*parts)


@click.command("analyze")
@click.option(
    "--db",
    default="events.db",
    show_default=True,
    help="Event log written by `abgate serve`: a SQLite file or a postgresql:// URL.",
)
@click.option("--experiment", default=None, help="Experiment name [default: the only one].")
@click.option("--json", "as_json", is_flag=True, help="Print the full analysis as JSON.")
@click.option(
    "--alpha", type=click.FloatRange(0.0, 0.5, min_open=True), default=0.05, show_default=True
)
@click.option(
    "--n-star",
    type=click.IntRange(min=1),
    default=5000,
    show_default=True,
    help="Planned total sample size, tunes the always-valid test.",
)
@click.option(
    "--burn-in",
    type=click.IntRange(min=0),
    default=200,
    show_default=True,
    help="Minimum scored predictions before any decision.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
def analyze_command(
    db: str,
    experiment: str | None,
    as_json: bool,
    alpha: float,
    n_star: int,
    burn_in: int,
    seed: int,
) -> None:
    """Analyse an experiment from the event log and print the decision with its reasons.

    Aggregates come from the log's running tallies (constant time however long the log);
    latency quantiles from the most recent 5,000 requests (a bootstrap over more costs
    seconds and changes little).
    """
    if not event_log_exists(db):
        raise StoreError(f"{db}: no such event log")
    if experiment is None:
        names = list_experiments(db)
        if len(names) != 1:
            raise StoreError(
                f"{db} holds {len(names)} experiments ({', '.join(names) or 'none'}); "
                "choose one with --experiment"
            )
        experiment = names[0]
    data = load_experiment(db, experiment)
    baseline = data.default or max(data.weights, key=lambda m: (data.weights[m], m))
    if len(data.arms) < 2:
        raise StoreError(f"experiment '{experiment}' has only one variant in this log")
    config = AnalysisConfig(alpha=alpha, n_star=n_star, burn_in=burn_in)
    analysis = analyze_experiment(
        data.arms, data.weights, config, baseline=baseline, rng=np.random.default_rng(seed)
    )
    if as_json:
        doc = {
            "experiment": experiment,
            "events": data.events,
            "weights": data.weights,
            "analysis": analysis.to_dict(),
        }
        click.echo(json.dumps(doc, indent=2))
        return
    Console(width=140).print(render_analysis(data, analysis))
