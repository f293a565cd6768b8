"""Options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Any)

DEFAULT_REGISTRY = "models"


def registry_option(func: F) -> F:
    return click.option(
        "--registry",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_REGISTRY,
        envvar="ABGATE_REGISTRY",
        show_default=True,
        show_envvar=True,
        help="Model registry folder.",
    )(func)
