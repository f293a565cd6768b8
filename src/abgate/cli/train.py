"""``abgate train``: train, export and register the LSTM variants."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from abgate.cli.models import render_models, wide_console
from abgate.cli.options import registry_option
from abgate.errors import DataError
from abgate.market.sources import load_market
from abgate.registry.store import Registry

if TYPE_CHECKING:
    from rich.progress import TaskID

    from abgate.models.config import ModelConfig
    from abgate.models.train import EpochReport


@click.command("train")
@click.option(
    "--variant",
    type=click.Choice(["baseline", "enhanced", "all"]),
    default="all",
    show_default=True,
    help="Which model to train.",
)
@click.option(
    "--source",
    type=click.Choice(["sample", "csv", "yahoo"]),
    default=None,
    help="Market data: the shipped 2000-2013 sample (default), CSV files, or Yahoo (online).",
)
@click.option(
    "--csv",
    "csv_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Yahoo-style CSV file(s), one per ticker; the file name is the ticker "
    "(--csv AAPL.csv MSFT.csv).",
)
@click.argument("more_csv", nargs=-1, type=click.Path(path_type=Path), metavar="")
@click.option("--tickers", default=None, help="Comma-separated tickers [default: AAPL,MSFT].")
@click.option("--start", default=None, help="First date to use (YYYY-MM-DD).")
@click.option("--end", default=None, help="Last date to use (YYYY-MM-DD).")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed for repeatable runs.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override epochs.")
@click.option("--smoke", is_flag=True, help="One epoch on a few hundred windows (for tests).")
@click.option(
    "--if-empty", is_flag=True, help="Do nothing when the registry already has both models."
)
@registry_option
def train_command(
    variant: str,
    source: str | None,
    csv_paths: tuple[Path, ...],
    more_csv: tuple[Path, ...],
    tickers: str | None,
    start: str | None,
    end: str | None,
    seed: int,
    epochs: int | None,
    smoke: bool,
    if_empty: bool,
    registry: Path,
) -> None:
    """Train the LSTM variant(s), export to ONNX (checked against PyTorch) and register them.

    \b
    Examples:
      abgate train
      abgate train --variant enhanced --seed 7
      abgate train --csv data/AAPL.csv data/MSFT.csv --start 2018-01-01 --end 2023-12-31
    """
    console = wide_console()
    reg = Registry(registry)
    wanted = ["baseline", "enhanced"] if variant == "all" else [variant]
    if if_empty and all(reg.versions(f"{v}-predictor") for v in wanted):
        console.print(f"Registry {registry} already has the models; nothing to train.")
        return
    if more_csv and not csv_paths:
        raise click.UsageError(f"unexpected argument(s): {' '.join(map(str, more_csv))}")
    paths = list(csv_paths) + list(more_csv)
    src = source or ("csv" if paths else "sample")
    if paths and src != "csv":
        raise click.UsageError("--csv files given with --source " + src)
    ticker_list = [t.strip().upper() for t in tickers.split(",") if t.strip()] if tickers else None
    bars = load_market(src, tickers=ticker_list, csv_paths=paths, start=start, end=end)  # type: ignore[arg-type]
    for b in bars:
        console.print(
            f"[bold]{b.ticker}[/]: {len(b)} daily bars {b.first_date} … {b.last_date} ({b.source})"
        )

    try:
        from abgate.models.pipeline import TrainRequest, train_and_register
    except ModuleNotFoundError as exc:
        raise DataError(
            f"training needs PyTorch ({exc.name} is missing): pip install 'abgate[train]'"
        ) from exc

    request = TrainRequest(variants=wanted, seed=seed, epochs=epochs, smoke=smoke, source=src)
    interactive = console.is_terminal
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=console,
        disable=not interactive,
    ) as progress:
        task: list[TaskID] = []

        def on_start(cfg: ModelConfig) -> None:
            task.append(progress.add_task(cfg.model_name, total=cfg.epochs, status=""))

        def on_epoch(r: EpochReport) -> None:
            status = (
                f"loss {r.train_loss:.4f}  val loss {r.val_loss:.4f}  val acc {r.val_accuracy:.3f}"
            )
            progress.update(task[-1], advance=1, status=status)
            if not interactive:
                console.print(f"  epoch {r.epoch}/{r.epochs}  {status}", highlight=False)

        versions = train_and_register(request, bars, reg, on_start=on_start, on_epoch=on_epoch)
    for mv in versions:
        console.print(
            f"registered [bold]{mv.name}[/] version {mv.version} "
            f"({mv.card.training_seconds:.1f} s, best epoch {mv.card.best_epoch}, "
            f"ONNX parity {mv.card.onnx_parity_max_abs_diff:.1e})"
        )
    console.print(render_models(reg.all()))
