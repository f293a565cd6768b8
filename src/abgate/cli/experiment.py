"""``abgate experiment``: inspect and steer experiments on a running gateway (admin API)."""

from __future__ import annotations

import json
from typing import Any

import click
import httpx
from rich.console import Console
from rich.table import Table

from abgate.errors import AbgateError


class AdminError(AbgateError):
    """The gateway refused or could not be reached."""


def _call(ctx: click.Context, method: str, path: str, body: Any = None) -> dict[str, Any]:
    url, token = ctx.obj["url"].rstrip("/"), ctx.obj["token"]
    headers = {"authorization": f"Bearer {token}"} if token else {}
    try:
        resp = httpx.request(method, url + path, json=body, headers=headers, timeout=10.0)
    except httpx.HTTPError as exc:
        raise AdminError(f"cannot reach the gateway at {url} ({exc})") from exc
    try:
        doc: dict[str, Any] = resp.json()
    except ValueError:
        doc = {"error": resp.text[:200]}
    if resp.status_code >= 400:
        hint = " (pass --token or set ABGATE_ADMIN_TOKEN)" if resp.status_code == 401 else ""
        raise AdminError(f"{resp.status_code}: {doc.get('error', doc)}{hint}")
    return doc


def render_status(doc: dict[str, Any]) -> Table:
    """Pure render of ``GET /v2/experiments/{name}``."""
    rollout = doc.get("rollout")
    title = f"{doc['name']}  (default {doc.get('default')}, fallback {doc.get('fallback')})"
    if rollout:
        title += f"  rollout: {rollout['phase']} at {rollout['step_percent']}%"
    table = Table(title=title, title_justify="left")
    for col in (
        "model",
        "weight",
        "target",
        "assigned",
        "served",
        "errors",
        "scored",
        "accuracy",
        "circuit",
    ):
        table.add_column(col, justify="left" if col in ("model", "circuit") else "right")
    for v in doc["variants"]:
        acc = v.get("accuracy")
        table.add_row(
            f"{v['model']}_{v['version']}",
            f"{v['weight']:g}",
            f"{v['target_share']:.0%}",
            f"{v['assigned']:,}",
            f"{v['served']:,}",
            f"{v['errors']:,}",
            f"{v['scored']:,}",
            "—" if acc is None else f"{acc:.1%}",
            v["circuit"],
        )
    return table


@click.group("experiment")
@click.option(
    "--url",
    default="http://127.0.0.1:8080",
    show_default=True,
    envvar="ABGATE_URL",
    help="Gateway base URL.",
)
@click.option(
    "--token",
    default=None,
    envvar="ABGATE_ADMIN_TOKEN",
    help="Admin bearer token (printed by `abgate serve`).",
)
@click.pass_context
def experiment_group(ctx: click.Context, url: str, token: str | None) -> None:
    """Inspect and steer experiments on a running gateway.

    \b
    Examples:
      abgate experiment status financial-ab-test-experiment
      abgate experiment set-weights EXP baseline-predictor=50 enhanced-predictor=50
      abgate experiment rollback financial-ab-test-experiment
    """
    ctx.obj = {"url": url, "token": token}


@experiment_group.command("status")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def status_command(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """Weights, breakers, counts and live accuracy (all experiments without NAME)."""
    docs = (
        [_call(ctx, "GET", f"/v2/experiments/{name}")]
        if name
        else _call(ctx, "GET", "/v2/experiments")["experiments"]
    )
    if as_json:
        click.echo(json.dumps(docs if not name else docs[0], indent=2))
        return
    console = Console(width=140)
    for doc in docs:
        console.print(render_status(doc))


def _action(verb: str, help_text: str) -> click.Command:
    @click.command(verb, help=help_text)
    @click.argument("name")
    @click.pass_context
    def command(ctx: click.Context, name: str) -> None:
        doc = _call(ctx, "POST", f"/v2/experiments/{name}/{verb}")
        Console(width=140).print(render_status(doc))

    return command


for _verb, _help in (
    ("promote", "Send all traffic to the candidate and make it the fallback."),
    ("rollback", "Send all traffic back to the default model."),
    ("pause", "Freeze an automatic rollout at its current step."),
    ("resume", "Resume a paused rollout."),
):
    experiment_group.add_command(_action(_verb, _help))


@experiment_group.command("set-weights")
@click.argument("name")
@click.argument("weights", nargs=-1, required=True, metavar="MODEL=WEIGHT...")
@click.pass_context
def set_weights_command(ctx: click.Context, name: str, weights: tuple[str, ...]) -> None:
    """Set relative weights; they apply from the next request."""
    parsed: dict[str, float] = {}
    for item in weights:
        model, sep, value = item.partition("=")
        try:
            parsed[model] = float(value)
        except ValueError:
            sep = ""
        if not sep or not model:
            raise click.BadParameter(f"{item!r} is not MODEL=WEIGHT", param_hint="WEIGHTS")
    _call(ctx, "PUT", f"/v2/experiments/{name}/weights", {"weights": parsed})
    Console(width=140).print(render_status(_call(ctx, "GET", f"/v2/experiments/{name}")))
