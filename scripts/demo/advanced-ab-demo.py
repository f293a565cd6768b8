#!/usr/bin/env python3
"""The A/B demo under the name users know: same flags as ``abgate demo``.

    .venv/bin/python scripts/demo/advanced-ab-demo.py --scenarios 500 --workers 3
    .venv/bin/python scripts/demo/advanced-ab-demo.py --candidate-fault error-rate=0.3

Run with a Python that lacks abgate's dependencies, it explains how to set up instead of
failing with a traceback. Only the standard library is imported before that check.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Import names of what `abgate demo` needs at run time (pip names differ for a few).
REQUIRED = (
    "click",
    "numpy",
    "scipy",
    "pydantic",
    "pydantic_settings",
    "yaml",
    "orjson",
    "httpx",
    "rich",
    "matplotlib",
    "onnxruntime",
    "uvicorn",
    "prometheus_client",
)
SETUP = """\
abgate's demo cannot run with this Python ({python}):
  {problem}

Set up once from the repository root ({root}):
  make demo                     # creates .venv, installs pinned dependencies, runs the demo
then run the demo with the project's environment:
  .venv/bin/abgate demo --scenarios 500 --workers 3
  .venv/bin/python scripts/demo/advanced-ab-demo.py --scenarios 500 --workers 3
"""


def missing_requirements() -> str | None:
    """Why this interpreter cannot run the demo, or None when it can."""
    # Checked on purpose: this file may be run by any python3 on the machine.
    if sys.version_info < (3, 11):  # noqa: UP036
        return f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}"
    missing = [name for name in REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        return "missing packages: " + ", ".join(missing)
    return None


def main(argv: list[str] | None = None) -> int:
    problem = missing_requirements()
    if problem is not None:
        print(SETUP.format(python=sys.executable, problem=problem, root=ROOT), file=sys.stderr)
        return 2
    src = ROOT / "src"
    if importlib.util.find_spec("abgate") is None and src.is_dir():
        sys.path.insert(0, str(src))  # a checkout whose dependencies are installed, abgate not
    from abgate.cli.demo import demo_command

    # Standalone mode: click prints usage errors and `Error: …`, and exits with their codes.
    demo_command.main(args=argv, prog_name="advanced-ab-demo.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
