"""``abgate export``: package a registered model for MLServer or Triton."""

from __future__ import annotations

from pathlib import Path

import click

from abgate.cli.options import registry_option
from abgate.serving.export import EXPORT_FORMATS, ExportFormat, export_model


@click.command("export")
@click.option(
    "--model",
    "ref",
    required=True,
    metavar="NAME[:VERSION]",
    help="Registry model; the latest version unless VERSION is given.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    required=True,
    help="mlserver: model-settings.json + model.onnx + runtime; triton: config.pbtxt + ONNX.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Model repository folder; the model is written to OUT/NAME (replacing it).",
)
@click.option(
    "--max-batch-size",
    type=click.IntRange(0),
    default=64,
    show_default=True,
    help="Triton: largest batch its dynamic batcher forms (0 disables batching).",
)
@click.option(
    "--max-queue-delay-us",
    type=click.IntRange(0),
    default=500,
    show_default=True,
    help="Triton: how long a request may wait for a batch to fill, in microseconds.",
)
@registry_option
def export_command(
    ref: str,
    fmt: ExportFormat,
    out: Path,
    max_batch_size: int,
    max_queue_delay_us: int,
    registry: Path,
) -> None:
    """Export a model as an MLServer or Triton model repository entry.

    \b
    Examples:
      abgate export --model baseline-predictor --format mlserver --out build/mlserver
      mlserver start build/mlserver          # needs: pip install mlserver onnxruntime
      abgate export --model enhanced-predictor:1 --format triton --out build/triton
    """
    folder = export_model(
        registry,
        ref,
        fmt,
        out,
        max_batch_size=max_batch_size,
        max_queue_delay_us=max_queue_delay_us,
    )
    click.echo(f"exported {ref} ({fmt}) to {folder}")
