"""pip-audit of the locked dependencies (known vulnerabilities), when its database is reachable."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWLIST = ROOT / "audit-allowlist.txt"  # vulnerability ids accepted, one per line, with a why


def test_locked_dependencies_have_no_known_vulnerabilities() -> None:
    exe = shutil.which("pip-audit", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("pip-audit is not installed (pip install pip-audit)")
    proc = subprocess.run(
        [
            exe,
            "-r",
            str(ROOT / "requirements.lock"),
            "--format",
            "json",
            "--progress-spinner",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.skip(f"pip-audit could not run here: {proc.stderr.strip()[-300:]}")
    deps = report.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    if not audited:
        pytest.skip(
            "the vulnerability database is unreachable from this machine (every "
            "dependency was skipped); run `make audit` where it is reachable"
        )
    allowed = (
        {
            line.split("#")[0].strip()
            for line in ALLOWLIST.read_text().splitlines()
            if line.split("#")[0].strip()
        }
        if ALLOWLIST.exists()
        else set()
    )
    found = [
        f"{d['name']} {d['version']}: {v['id']}"
        for d in audited
        for v in d.get("vulns", [])
        if v["id"] not in allowed and not set(v.get("aliases", [])) & allowed
    ]
    assert not found, "known vulnerabilities:\n" + "\n".join(found)
