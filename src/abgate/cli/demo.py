"""``abgate demo``: the A/B demo end to end (a thin shell over :mod:`abgate.demo.runner`)."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console

from abgate.demo.faults import CandidateFault, parse_candidate_fault
from abgate.errors import AbgateError
from abgate.gateway.config import DEFAULT_EXPERIMENT


def _console() -> Console:
    """Rich's own width on a terminal; 160 columns in logs and pipes (80 cramps the tables)."""
    console = Console()
    return console if console.is_terminal else Console(width=160)


def _endpoint(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise click.BadParameter(f"{value!r} is not a URL: use http://host:port", ctx, param)
    return value.rstrip("/") if value else value


def _candidate_fault(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> CandidateFault | None:
    try:
        return parse_candidate_fault(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


@click.command("demo", context_settings={"max_content_width": 100})
@click.option(
    "--scenarios",
    type=click.IntRange(min=1),
    default=500,
    show_default=True,
    help="Held-out market days to replay (one request each in closed-loop mode).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Concurrent clients (closed loop: each sends its next request when answered).",
)
@click.option("--seed", type=int, default=42, show_default=True, help="Seed of the sampling.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Open loop: requests per second, on a fixed schedule (needs --duration).",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Open loop: seconds of load (needs --rate); the scenarios are cycled.",
)
@click.option(
    "--endpoint",
    callback=_endpoint,
    default=None,
    help="Target a running gateway or Seldon Core v2 mesh (URL) instead of starting one.",
)
@click.option(
    "--experiment",
    default=DEFAULT_EXPERIMENT,
    show_default=True,
    help="Experiment to address (header seldon-model: <experiment>.experiment).",
)
@click.option("--host-header", default=None, help="Host header to send (e.g. an NGINX ingress).")
@click.option(
    "--registry",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("models"),
    envvar="ABGATE_REGISTRY",
    show_default=True,
    help="Model registry (trained first if empty; the held-out days come from it).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Folder for the PNG, JSON and Markdown reports.",
)
@click.option(
    "--max-error-rate",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Fail (exit 1) when more than this share of requests failed.",
)
@click.option(
    "--candidate-fault",
    multiple=True,
    metavar="FAULT",
    callback=_candidate_fault,
    help="Break the candidate on purpose and let the gateway's safety machinery act: "
    "error-rate=R (0 < R ≤ 1), latency-ms=MS, down-after=N (taken down after N requests). "
    "Repeat the flag or separate with commas. Turns on a progressive rollout; needs the "
    "demo's own gateway.",
)
def demo_command(
    scenarios: int,
    workers: int,
    seed: int,
    rate: float | None,
    duration: float | None,
    endpoint: str | None,
    experiment: str,
    host_header: str | None,
    registry: Path,
    out: Path,
    max_error_rate: float,
    candidate_fault: CandidateFault | None,
) -> None:
    """Run a live A/B test of the two LSTM predictors on real held-out market days.

    \b
    By default: trains the models if the registry is empty, starts the gateway
    on a free loopback port (baseline 70% / enhanced 30%), replays the sampled
    days with a live view, scores every prediction against what the market
    really did, sends that ground truth to the gateway, checks that client and
    gateway tallies agree, stops the gateway and writes
    reports/advanced_ab_test_analysis_YYYYMMDD_HHMMSS.{png,json,md}.

    \b
    The verdict uses always-valid (peeking-safe) statistics. Next-day direction
    is close to a coin flip, so "no significant difference" is the expected and
    honest answer.

    \b
    With --candidate-fault the candidate fails, slows down or goes down while a
    progressive rollout runs. Expected: every client request still answered
    (fallback to the baseline), the circuit breaker opens (down, or an error
    rate of 0.7 or more), the rollout controller rolls the candidate back; the
    report adds a timeline of breaker states, weights and fallbacks.

    \b
    Examples:
      abgate demo --scenarios 500 --workers 3
      abgate demo --rate 200 --duration 20
      abgate demo --endpoint http://127.0.0.1:8080
      abgate demo --endpoint http://mesh.local --host-header ab.example.com
      abgate demo --candidate-fault error-rate=0.3
      abgate demo --candidate-fault latency-ms=200 --candidate-fault down-after=300

    Feedback to a gateway that is not on loopback is sent with the bearer
    token in ABGATE_ADMIN_TOKEN.

    Exit code 0 when the run completed; 1 when the gateway could not start,
    the endpoint was unreachable, the error rate exceeded --max-error-rate, or
    a fault run did not show its expected outcome.
    """
    from abgate.demo.runner import DemoOptions, run_demo  # heavy imports only when running

    if (rate is None) != (duration is None):
        raise click.UsageError("--rate and --duration go together (open-loop load)")
    if candidate_fault is not None:
        if endpoint:
            raise click.BadParameter(
                "needs the demo's own gateway (it sets up the faults, the rollout policy and "
                "the breaker at start): drop --endpoint",
                param_hint="'--candidate-fault'",
            )
        planned = max(1, round(rate * duration)) if rate and duration else scenarios
        down_after = candidate_fault.down_after
        if down_after is not None and down_after >= planned:
            raise click.BadParameter(
                f"down-after={down_after} is not below the {planned} requests of this run, so "
                "the candidate would never go down",
                param_hint="'--candidate-fault'",
            )
    options = DemoOptions(
        scenarios=scenarios,
        workers=workers,
        seed=seed,
        rate=rate,
        duration=duration,
        endpoint=endpoint,
        experiment=experiment,
        host_header=host_header,
        registry=registry,
        out=out,
        max_error_rate=max_error_rate,
        token=os.environ.get("ABGATE_ADMIN_TOKEN") if endpoint else None,
        candidate_fault=candidate_fault,
    )
    try:
        result = run_demo(options, _console())
    except AbgateError as exc:
        raise click.ClickException(str(exc)) from exc
    if result.error_rate > max_error_rate:
        raise click.ClickException(
            f"error rate {result.error_rate:.2%} ({result.tally.failures} of "
            f"{result.tally.sent} requests) exceeded --max-error-rate {max_error_rate:.2%}"
        )
    if missing := result.failed_checks:
        raise click.ClickException(
            f"the fault run did not show its expected outcome: {', '.join(missing)} "
            "(details above and in the report)"
        )
