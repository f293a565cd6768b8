"""The demo from start to finish: models → gateway → load with live analysis → report.

1. Train both LSTM variants if the registry lacks them (the held-out days come from it).
2. Start ``abgate serve`` on a free loopback port with a fresh event log in a temporary folder,
   unless ``endpoint`` points at a running gateway or Seldon Core v2 mesh.
3. Replay sampled held-out days (closed loop with workers, or open loop at a rate), scoring
   every answer and sending the truth as feedback; analyse every ~0.5 s while the view refreshes.
4. Final analysis, the exact client-versus-gateway tally check, the timeline from the gateway's
   admin events (embedded gateway), stop the gateway, write the reports, print the summary. An
   error rate above ``max_error_rate`` is reported as an error after the reports are written.

With ``candidate_fault`` (see :mod:`abgate.demo.faults`) the embedded gateway runs a broken
candidate under a rollout policy; the run polls its status at every look, takes the candidate
down through the admin API after ``down-after`` requests, waits after the load for the
controller's next checks, and judges the expected outcomes (client success, fallbacks, breaker,
rollback) on the timeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from abgate.demo.display import Display
from abgate.demo.faultrun import FaultWatch, fault_section
from abgate.demo.faults import (
    ANALYSIS_INTERVAL_S,
    DEMO_ROLLOUT,
    SETTLE_S,
    CandidateFault,
    FaultCheck,
)
from abgate.demo.gateway import GatewayProcess, put_faults, start_gateway
from abgate.demo.monitor import Monitor
from abgate.demo.summary import headline, recommendation, render_fault_summary, render_summary
from abgate.demo.timeline import (
    build_timeline,
    exposure_weights,
    read_admin_events,
    sent_s,
    weight_steps,
)
from abgate.errors import AbgateError, ConfigError, RegistryError
from abgate.gateway.config import (
    BASELINE_MODEL,
    CANDIDATE_MODEL,
    DEFAULT_EXPERIMENT,
    config_from_dict,
)
from abgate.loadgen.arms import ExperimentArms
from abgate.loadgen.client import LoadGenerator, Outcome, Target, plan_requests
from abgate.loadgen.scenarios import load_scenarios
from abgate.loadgen.tally import ClientTally, TallyCheck, compare_tallies, status_delta
from abgate.registry.store import Registry
from abgate.report import ReportPaths, write_reports
from abgate.report.json import RunInfo, build_report
from abgate.stats import ExperimentAnalysis

_FAULT_NEEDS_EMBEDDED = (
    "--candidate-fault needs the demo's own gateway (it configures the faults, the rollout "
    "policy and the breaker at start): drop --endpoint"
)


@dataclass(frozen=True)
class DemoOptions:
    """Everything ``abgate demo`` can be told (see the command's ``--help``)."""

    scenarios: int = 500
    workers: int = 3
    seed: int = 42
    rate: float | None = None
    duration: float | None = None
    endpoint: str | None = None
    experiment: str = DEFAULT_EXPERIMENT
    host_header: str | None = None
    registry: Path = Path("models")
    out: Path = Path("reports")
    max_error_rate: float = 0.01
    accounts: int | None = None
    """Size of the account pool; default 4 × the requests, so most accounts are new (see docs)."""
    token: str | None = None
    look_interval_s: float = 0.5
    refresh_s: float = 0.2
    candidate_fault: CandidateFault | None = None
    """Break the candidate on purpose (embedded gateway only; see :mod:`abgate.demo.faults`)."""


@dataclass
class DemoResult:
    analysis: ExperimentAnalysis
    check: TallyCheck
    tally: ClientTally
    paths: ReportPaths
    report: dict[str, Any] = field(repr=False)
    wall_s: float = 0.0
    fault: dict[str, Any] | None = field(default=None, repr=False)
    """The report's ``fault`` section in a fault run."""

    @property
    def error_rate(self) -> float:
        return self.tally.error_rate

    @property
    def failed_checks(self) -> list[str]:
        """Names of the required fault-run outcomes that did not happen."""
        if self.fault is None:
            return []
        return [c["name"] for c in self.fault["checks"] if c["required"] and not c["passed"]]


def ensure_models(registry: Path, console: Console) -> None:
    """Train the missing predictors into ``registry`` (needs PyTorch)."""
    reg = Registry(registry)
    missing = [v for v in ("baseline", "enhanced") if not reg.versions(f"{v}-predictor")]
    if not missing:
        return
    console.print(f"Registry {registry} lacks {', '.join(missing)}: training them (≈30 s)…")
    try:
        from abgate.market.sources import load_market
        from abgate.models.pipeline import TrainRequest, train_and_register
    except ImportError as exc:
        raise RegistryError(
            f"the registry {registry} has no trained models and training needs PyTorch "
            f"({exc.name} is missing): pip install 'abgate[train]', or point --registry at a "
            "trained registry"
        ) from exc
    train_and_register(
        TrainRequest(variants=missing),
        load_market("sample"),
        reg,
        on_start=lambda cfg: console.print(f"  training {cfg.model_name}…"),
    )


def _scenario_model(registry: Path, arms: ExperimentArms) -> str:
    """The registry model whose held-out days to replay: the baseline's, else any arm's.

    Both predictors are trained on the same split, so their held-out days are the same.
    """
    names = Registry(registry).names()
    for name in (arms.baseline, *arms.candidates, BASELINE_MODEL):
        if name in names:
            return name
    return BASELINE_MODEL  # raises a clear RegistryError when loaded


async def _status(http: httpx.AsyncClient, target: Target) -> dict[str, Any] | None:
    """The gateway's experiment status, or None when the endpoint has none (a Seldon mesh)."""
    headers = {"host": target.host_header} if target.host_header else {}
    try:
        response = await http.get(target.status_url, headers=headers)
        doc = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return doc if isinstance(doc, dict) and "variants" in doc else None


async def _preflight(http: httpx.AsyncClient, target: Target) -> bool:
    """Fail early when the endpoint is unreachable; True when it is an abgate gateway."""
    headers = {"host": target.host_header} if target.host_header else {}
    base = target.base_url.rstrip("/")
    try:
        await http.get(base + "/v2/health/ready", headers=headers)
        meta = await http.get(base + "/v2", headers=headers)
    except httpx.HTTPError as exc:
        raise AbgateError(f"cannot reach {target.base_url}: {type(exc).__name__}: {exc}") from exc
    try:
        return meta.status_code == 200 and meta.json().get("name") == "abgate"
    except (ValueError, AttributeError):
        return False


@dataclass
class _Run:
    """What the load phase hands back to :func:`run_demo`."""

    monitor: Monitor
    check: TallyCheck
    load_s: float
    timeline: dict[str, Any] | None
    final_status: dict[str, Any] | None
    """The gateway's rollout phase, weights and breakers after a fault run."""


async def _settle(
    http: httpx.AsyncClient,
    target: Target,
    watch: FaultWatch,
    show: Callable[[], None],
) -> None:
    """Give the rollout controller its next checks on the complete data (at most SETTLE_S)."""
    deadline = time.perf_counter() + SETTLE_S
    while True:
        watch.update(await _status(http, target))
        show()
        if watch.finished or time.perf_counter() >= deadline:
            return
        await asyncio.sleep(0.1)


async def _drive(
    options: DemoOptions,
    target: Target,
    display: Display,
    tally: ClientTally,
    plan_size: tuple[int, int],
    gateway: GatewayProcess | None,
) -> _Run:
    count, accounts = plan_size
    limits = httpx.Limits(max_connections=max(options.workers, 256), max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), limits=limits) as http:
        is_abgate = await _preflight(http, target)
        before = await _status(http, target)
        if is_abgate and before is None:
            raise ConfigError(
                f"the gateway at {target.base_url} has no experiment {target.experiment!r}"
            )
        arms = (
            ExperimentArms.from_status(before)
            if before
            else ExperimentArms(
                options.experiment, BASELINE_MODEL, {BASELINE_MODEL: 70, CANDIDATE_MODEL: 30}
            )
        )
        monitor = Monitor(arms, seed=options.seed)
        scenarios = load_scenarios(
            options.registry,
            _scenario_model(options.registry, arms),
            options.scenarios,
            options.seed,
        )
        plan = plan_requests(
            scenarios, count, accounts=accounts, seed=options.seed, run_id=secrets.token_hex(4)
        )
        fault = options.candidate_fault
        watch = FaultWatch(fault, arms) if fault is not None and gateway is not None else None
        if watch is not None:
            watch.update(before)
        injections: list[asyncio.Task[None]] = []

        def on_outcome(outcome: Outcome) -> None:
            tally.record(outcome)
            if watch is not None and gateway is not None and watch.down_due(tally.sent):
                down = watch.fault.settings(down=True)
                injections.append(
                    asyncio.create_task(
                        put_faults(http, gateway.url, watch.candidate, gateway.admin_token, down)
                    )
                )

        generator = LoadGenerator(
            http, target, on_outcome=on_outcome, on_feedback=tally.record_feedback
        )
        started, t0 = time.perf_counter(), time.time()
        if watch is not None:
            watch.t0 = t0

        def show(elapsed: float, *, finished: bool = False) -> None:
            snapshot = monitor.snapshot(
                tally, target=target.base_url, total=count, elapsed_s=elapsed, finished=finished
            )
            if watch is not None:
                snapshot = replace(snapshot, gateway=watch.line(tally))
            display.update(snapshot)

        if options.rate:
            load = asyncio.create_task(generator.open_loop(plan, options.rate))
        else:
            load = asyncio.create_task(generator.closed_loop(plan, options.workers))
        next_look = options.look_interval_s
        while not load.done():
            await asyncio.wait({load}, timeout=options.refresh_s)
            elapsed = time.perf_counter() - started
            if elapsed >= next_look and not load.done():
                if watch is not None:
                    watch.update(await _status(http, target))
                    monitor.arms = watch.expected_arms(tally)
                monitor.look(tally, elapsed)
                next_look = elapsed + options.look_interval_s
            show(elapsed)
        await load
        load_s = time.perf_counter() - started
        for task in injections:
            await task  # a refused injection is an error, not a silent non-event
        if watch is not None:
            await _settle(http, target, watch, lambda: show(time.perf_counter() - started))
        end_s = time.perf_counter() - started if watch is not None else load_s
        after = await _status(http, target)
        if watch is not None:
            watch.update(after)
        check = compare_tallies(tally, before, after)
        routed = status_delta(before, after, "assigned") if after is not None else None
        timeline = None
        if gateway is not None and arms.candidates:
            timeline = build_timeline(
                read_admin_events(gateway.events_db),
                tally.outcomes,
                t0=t0,
                end_s=end_s,
                experiment=arms.name,
                baseline=arms.baseline,
                candidate=arms.candidates[0],
                config_faults=gateway.config.get("faults"),
            )
        if watch is not None and timeline is not None:
            sent = [sent_s(o) for o in tally.outcomes]
            expected = exposure_weights(weight_steps(timeline), sent, arms.weights)
            monitor.arms = ExperimentArms(arms.name, arms.baseline, expected)
        monitor.look(tally, end_s, final=True, routed=routed)
        show(end_s, finished=True)
    final = watch.final_status() if watch is not None else None
    return _Run(monitor, check, load_s, timeline, final)


def run_demo(options: DemoOptions, console: Console) -> DemoResult:
    """Run the whole demo; raises :class:`AbgateError` subclasses for the CLI to print."""
    if (options.rate is None) != (options.duration is None):
        raise ConfigError("--rate and --duration go together (open-loop load)")
    if options.candidate_fault is not None and options.endpoint:
        raise ConfigError(_FAULT_NEEDS_EMBEDDED)
    if options.rate is not None and options.duration is not None:
        count = max(1, round(options.rate * options.duration))
    else:
        count = options.scenarios
    accounts = options.accounts or max(100, 4 * count)
    t0 = time.perf_counter()
    when = datetime.now().astimezone()
    ensure_models(options.registry, console)
    tally = ClientTally()
    gateway: GatewayProcess | None = None
    with contextlib.ExitStack() as stack:
        if options.endpoint:
            url, mode = options.endpoint, "endpoint"
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="abgate-demo-")))
            console.print("Starting the gateway…")
            if options.candidate_fault is not None:
                console.print(
                    f"Fault injection: {options.candidate_fault.describe()} on "
                    f"{CANDIDATE_MODEL}, progressive rollout on (steps "
                    f"{', '.join(f'{s:g}%' for s in DEMO_ROLLOUT['steps'])})"
                )
            gateway = start_gateway(options.registry, workdir, fault=options.candidate_fault)
            stack.callback(gateway.stop)
            url, mode = gateway.url, "embedded"
        target = Target(url, options.experiment, BASELINE_MODEL, options.host_header, options.token)
        with Display(console) as display:
            run = asyncio.run(_drive(options, target, display, tally, (count, accounts), gateway))
    monitor = run.monitor
    analysis = monitor.analysis
    if analysis is None:  # pragma: no cover - _drive always makes a final look
        raise RuntimeError("no final analysis")
    fault: dict[str, Any] | None = None
    checks: Sequence[FaultCheck] = ()
    if (
        options.candidate_fault is not None
        and run.timeline is not None
        and run.final_status is not None
        and gateway is not None
    ):
        config = config_from_dict(gateway.config, "demo config")
        fault, checks = fault_section(
            options.candidate_fault,
            run.timeline,
            tally,
            final_status=run.final_status,
            rollout_policy=DEMO_ROLLOUT,
            breaker=config.breaker.model_dump(),
            analysis_interval_s=ANALYSIS_INTERVAL_S,
        )
    info = RunInfo(
        generated_at=when.isoformat(timespec="seconds"),
        mode=mode,
        target=url,
        scenarios=options.scenarios,
        workers=None if options.rate else options.workers,
        rate=options.rate,
        duration_s=options.duration,
        seed=options.seed,
        accounts=accounts,
        requests_planned=count,
        wall_s=round(time.perf_counter() - t0, 3),
        load_s=round(run.load_s, 3),
        max_error_rate=options.max_error_rate,
        registry=str(options.registry),
    )
    report = build_report(
        run=info,
        arms=monitor.arms,
        tally=tally,
        analysis=analysis,
        history=monitor.history,
        check=run.check,
        headline=headline(analysis),
        recommendation=recommendation(analysis),
        routed=monitor.routed,
        fault=fault,
        timeline=run.timeline,
    )
    paths = write_reports(report, options.out, when)
    console.print(render_summary(analysis, monitor.arms, tally, run.check, reports=paths.all()))
    if fault is not None and run.timeline is not None:
        console.print(render_fault_summary(fault["spec"], run.timeline, checks))
    return DemoResult(
        analysis, run.check, tally, paths, report, time.perf_counter() - t0, fault=fault
    )
