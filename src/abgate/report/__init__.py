"""The demo's reports: ``advanced_ab_test_analysis_YYYYMMDD_HHMMSS.{png,json,md}``.

- :mod:`~abgate.report.json` — every number of a run (:func:`build_report`), strict JSON
- :mod:`~abgate.report.schema` — ``report.schema.json`` and a small validator for it
- :mod:`~abgate.report.png` — the one-page picture for stakeholders (matplotlib, Agg)
- :mod:`~abgate.report.markdown` — the same tables as Markdown
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

STEM_PREFIX = "advanced_ab_test_analysis_"


@dataclass(frozen=True)
class ReportPaths:
    png: Path
    json: Path
    markdown: Path

    def all(self) -> tuple[Path, Path, Path]:
        return (self.png, self.json, self.markdown)


def report_stem(out_dir: Path, when: datetime) -> str:
    """``advanced_ab_test_analysis_YYYYMMDD_HHMMSS``, with ``_2``, ``_3``… if already taken."""
    stem = STEM_PREFIX + when.strftime("%Y%m%d_%H%M%S")
    candidate, k = stem, 1
    while any((out_dir / f"{candidate}{ext}").exists() for ext in (".png", ".json", ".md")):
        k += 1
        candidate = f"{stem}_{k}"
    return candidate


def write_reports(report: Mapping[str, Any], out_dir: Path, when: datetime) -> ReportPaths:
    """Write the JSON, Markdown and PNG forms of ``report`` into ``out_dir`` (created)."""
    from abgate.report.json import write_json
    from abgate.report.markdown import render_markdown
    from abgate.report.png import render_png  # matplotlib: imported only when drawing

    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(out_dir, when)
    paths = ReportPaths(out_dir / f"{stem}.png", out_dir / f"{stem}.json", out_dir / f"{stem}.md")
    write_json(report, paths.json)
    paths.markdown.write_text(render_markdown(report, paths.png.name), encoding="utf-8")
    render_png(report, paths.png)
    return paths
