"""``abgate stats``: show that the statistics keep their promises."""

from __future__ import annotations

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from abgate.stats import format_aa_table, simulate_aa


@click.group("stats")
def stats_group() -> None:
    """Statistics checks (simulations)."""


@stats_group.command("aa")
@click.option("--simulations", type=click.IntRange(min=10), default=2000, show_default=True)
@click.option("--looks", type=click.IntRange(min=1), default=20, show_default=True)
@click.option(
    "--per-look",
    "n_per_look",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="New observations per arm between looks.",
)
@click.option(
    "--alpha", type=click.FloatRange(0.0, 0.5, min_open=True), default=0.05, show_default=True
)
@click.option("--seed", type=int, default=1, show_default=True)
def aa_command(simulations: int, looks: int, n_per_look: int, alpha: float, seed: int) -> None:
    """Simulated A/A experiments watched repeatedly.

    Prints, at every look, the share of experiments a naive fixed-horizon test has already
    (falsely) declared significant, beside the always-valid test's share. The naive rate
    inflates with every look; the always-valid one stays at or below alpha.
    """
    result = simulate_aa(simulations, looks, n_per_look, alpha, np.random.default_rng(seed))
    header, *rows = format_aa_table(result)
    table = Table(title=f"A/A: {simulations} simulations, {looks} looks, α = {alpha}")
    for col in header:
        table.add_column(col, justify="right")
    for row in rows:
        table.add_row(*row)
    Console(width=120).print(table)
