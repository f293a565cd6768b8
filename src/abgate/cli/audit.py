"""``abgate audit verify``: check the event log's hash chain and the models it names."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import click

from abgate.errors import AbgateError, RegistryError, StoreError
from abgate.events.chain import verify_chain
from abgate.registry.store import Registry


class AuditFailed(AbgateError):
    """The log or the models do not match their records."""


def model_mismatches(db: Path, registry: Registry) -> list[str]:
    """Every model version an ``experiment_config`` event recorded, checked against the card
    and the file in the registry (sha256 of model.onnx)."""
    problems = []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT seq, payload FROM admin WHERE kind = 'experiment_config' ORDER BY seq"
        ).fetchall()
    for seq, payload in rows:
        doc = json.loads(payload)
        for model, digest in (doc.get("sha256") or {}).items():
            if digest is None:
                continue  # a remote model: its server owns the artifact
            version = doc.get("versions", {}).get(model, "latest")
            try:
                mv = registry.get(model, version)
                mv.verify()
            except RegistryError as exc:
                problems.append(f"event {seq}: {model} v{version}: {exc}")
                continue
            if mv.card.onnx_sha256 != digest:
                problems.append(
                    f"event {seq}: {model} v{version} served sha256 {digest[:12]}… but the "
                    f"registry card now says {mv.card.onnx_sha256[:12]}…"
                )
    return problems


@click.group("audit")
def audit_group() -> None:
    """Audit trail checks."""


@audit_group.command("verify")
@click.option(
    "--db", type=click.Path(dir_okay=False, path_type=Path), default="events.db", show_default=True
)
@click.option(
    "--registry",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also check that every served model version still matches its card.",
)
def verify_command(db: Path, registry: Path | None) -> None:
    """Recompute the hash chain; report the first modified, inserted or deleted event.

    Exit code 0 when intact, 1 when not. Publish the printed head hash elsewhere (a ticket, a
    report) to anchor the chain: rewriting the whole tail is then detectable too.
    """
    if not db.exists():
        raise StoreError(f"{db}: no such event log")
    report = verify_chain(db)
    if not report.ok:
        raise AuditFailed(
            f"hash chain broken at event {report.first_bad_seq}: {report.problem} "
            f"({report.events} events verified before it)"
        )
    click.echo(f"chain intact: {report.events} events, head hash {report.head_hash}")
    if registry is not None:
        problems = model_mismatches(db, Registry(registry))
        if problems:
            raise AuditFailed(
                "model versions do not match the registry:\n  " + "\n  ".join(problems)
            )
        click.echo("models: every served version matches its model card")
