"""``abgate models``: the registry as a table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from abgate.cli.options import registry_option
from abgate.registry.store import ModelVersion, Registry


def wide_console() -> Console:
    """A console that keeps tables readable in logs and pipes (rich assumes 80 columns there)."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    return console


def render_models(versions: Sequence[ModelVersion]) -> Table:
    """Pure render of registered versions (tested via ``Console(record=True)``)."""
    table = Table(title="Model registry", title_justify="left")
    for col, justify in (
        ("model", "left"),
        ("ver", "right"),
        ("LSTM", "right"),
        ("params", "right"),
        ("data", "left"),
        ("test acc", "right"),
        ("AUC", "right"),
        ("strategy", "right"),
        ("buy&hold", "right"),
        ("trained", "right"),
        ("sha256", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for mv in versions:
        c = mv.card
        test = c.metrics.get("test", {})
        auc = test.get("roc_auc")
        first = min(r[0] for r in c.data.date_ranges.values())
        last = max(r[1] for r in c.data.date_ranges.values())
        table.add_row(  # strategy/buy&hold: mean daily return on the held-out test days
            c.name,
            str(c.version),
            f"{c.architecture['num_layers']}×{c.architecture['hidden_size']}",
            f"{c.parameter_count:,}",
            f"{c.data.source} {'+'.join(c.data.tickers)} {first[:4]}-{last[:4]}",
            f"{test.get('accuracy', float('nan')):.1%} (n={test.get('n', 0)})",
            "—" if auc is None else f"{auc:.3f}",
            f"{test.get('strategy_mean_return', 0.0) * 1e4:+.1f} bps",
            f"{test.get('buy_and_hold_mean_return', 0.0) * 1e4:+.1f} bps",
            f"{c.training_seconds:.1f} s",
            c.onnx_sha256[:8],
        )
    return table


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print the model cards as JSON.")
@registry_option
def models_command(as_json: bool, registry: Path) -> None:
    """List registered models with their test metrics."""
    versions = Registry(registry).all()
    if as_json:
        click.echo(json.dumps([mv.card.model_dump() for mv in versions], indent=2))
        return
    console = wide_console()
    if not versions:
        console.print(f"Registry {registry} is empty; run `abgate train`.")
        return
    console.print(render_models(versions))
