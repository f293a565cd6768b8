"""``abgate events``: export the event log for analysts."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal, cast

import click

from abgate.errors import StoreError


@click.group("events")
def events_group() -> None:
    """Read the gateway's event log."""


@events_group.command("export")
@click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default="events.db",
    show_default=True,
    help="SQLite event log written by `abgate serve`.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option(
    "--kind",
    type=click.Choice(["inference", "feedback", "admin", "all"]),
    default="inference",
    show_default=True,
    help="Which events to export.",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Output file [default: standard output].",
)
def export_command(db: Path, fmt: str, kind: str, out: Path | None) -> None:
    """Export events as JSON lines or CSV (one row per event, in log order)."""
    from abgate.events.export import export_events

    if not db.exists():
        raise StoreError(f"{db}: no such event log")
    fmt_ = cast(Literal["jsonl", "csv"], fmt)
    kind_ = cast(Literal["inference", "feedback", "admin", "all"], kind)
    if out is None:
        count = export_events(db, fmt_, sys.stdout, kind_)
    else:
        with out.open("w", encoding="utf-8", newline="") as fh:
            count = export_events(db, fmt_, fh, kind_)
    click.echo(f"exported {count} {kind} event(s)", err=True)
