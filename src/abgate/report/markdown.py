"""The report as Markdown (same stem as the PNG and JSON), drawn from the JSON document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from abgate.report.json import timeline_eventful

MAX_TIMELINE_ROWS = 40


def _pct(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x * 100:.{digits}f}%"


def _pts(x: float | None) -> str:
    return "unbounded" if x is None else f"{x * 100:+.1f}"


def _ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _bps(x: float | None) -> str:
    return "–" if x is None else f"{x * 1e4:+.1f}"


def render_markdown(report: Mapping[str, Any], png_name: str | None = None) -> str:
    """A self-contained Markdown summary of ``report`` (every table, no raw predictions)."""
    run, v, traffic = report["run"], report["verdict"], report["traffic"]
    d = v["accuracy_difference"]
    exp = report["experiment"]
    p = v["always_valid_p"]
    lines = [
        f"# A/B test report: {exp['name']}",
        "",
        f"Generated {run['generated_at']} by abgate {report['abgate_version']} "
        f"({run['mode']} run against `{run['target']}`, seed {run['seed']}).",
        "",
        f"## Verdict: {v['verdict'].upper()} — {v['headline']}",
        "",
        v["recommendation"],
        "",
        f"- Accuracy difference ({v['candidate']} − {exp['baseline']}): {_pts(d['estimate'])} "
        f"points",
        f"- Always-valid 95% confidence sequence: [{_pts(d['cs_lower'])}, {_pts(d['cs_upper'])}]"
        f" points; always-valid p = {'–' if p is None else f'{p:.3f}'}",
        f"- Fixed-horizon 95% CI (Newcombe, not valid under peeking): [{_pts(d['ci_lower'])}, "
        f"{_pts(d['ci_upper'])}] points",
        f"- Traffic split (SRM): {'healthy' if v['srm_healthy'] else 'MISMATCH'}",
        f"- Decision reasons: {', '.join(f'`{r}`' for r in v['reasons']) or '–'}",
        "",
    ]
    if png_name:
        lines += [f"![A/B test report]({png_name})", ""]
    if report.get("fault") is not None:
        lines += _fault(report["fault"], report["timeline"])
    if timeline_eventful(report):
        lines += _timeline(report["timeline"])
    lines += [
        "## Models",
        "",
        "| model | role | answered | share (target) | fallbacks | accuracy [95% CI] "
        "| p50 / p95 / p99 ms | strategy bps/trade | buy & hold bps/day |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for m in report["models"]:
        acc, lat, s = m["accuracy"], m["latency_ms"], m["strategy"]
        lines.append(
            f"| {m['name']} | {m['role']} | {m['answered']:,} | {_pct(m['share'])} "
            f"({_pct(m['target_share'], 0)}) | {m['fallbacks_served']} | {_pct(acc['estimate'])} "
            f"[{_pct(acc['lower'])}, {_pct(acc['upper'])}] | {_ms(lat['p50'])} / {_ms(lat['p95'])}"
            f" / {_ms(lat['p99'])} | {_bps(s['mean_return'])} | "
            f"{_bps(s['buy_and_hold_mean_return'])} |"
        )
    lines += ["", "## Accuracy by market regime", ""]
    th = report["regime_thresholds"]
    lines += [
        f"Regimes from the last {th['trailing_days']} trading days of each window: "
        f"high-volatility when annualised volatility ≥ {th['high_volatility_annualised']:.0%}, "
        f"else bull when the return ≥ +{th['trend_return']:.0%}, bear when ≤ "
        f"−{th['trend_return']:.0%}, sideways otherwise.",
        "",
        "| regime | model | scored | accuracy [95% CI] |",
        "|---|---|--:|--:|",
    ]
    for r in report["regimes"]:
        lines.append(
            f"| {r['regime']} | {r['model']} | {r['scored']} | {_pct(r['accuracy'])} "
            f"[{_pct(r['lower'])}, {_pct(r['upper'])}] |"
        )
    sticky, fb, check = report["sticky"], report["feedback"], report["tally_check"]
    agree = (
        "not available" if not check["available"] else ("agree" if check["agree"] else "DISAGREE")
    )
    lines += [
        "",
        "## Run",
        "",
        f"- Requests: {traffic['requests']:,} (answered {traffic['answered']:,}, failures "
        f"{traffic['failures']}, error rate {_pct(traffic['error_rate'], 2)}; limit "
        f"{_pct(run['max_error_rate'], 2)})",
        f"- Load: {run['load_s']:.2f} s, {traffic['throughput_rps'] or 0:,.0f} requests/s; "
        f"{run['wall_s']:.1f} s from start to the final analysis",
        f"- Accounts: {sticky['accounts']:,} ({sticky['returning']:,} returning, "
        f"{sticky['switched']} switched variant)",
        f"- Feedback: {fb['sent']:,} sent, {fb['accepted']:,} accepted, {fb['rejected']} "
        f"rejected, {fb['lost']} lost",
        f"- Client vs gateway tallies: {agree}" + (f" ({check['note']})" if check["note"] else ""),
        "",
    ]
    if check["rows"]:
        lines += ["| model | quantity | client | gateway | |", "|---|---|--:|--:|---|"]
        lines += [
            f"| {r['model']} | {r['quantity']} | {r['client']} | {r['gateway']} | "
            f"{'✅' if r['agree'] else '❌'} |"
            for r in check["rows"]
        ]
        lines.append("")
    return "\n".join(lines)


def _fault(fault: Mapping[str, Any], timeline: Mapping[str, Any] | None) -> list[str]:
    model = timeline["candidate"] if timeline else fault["model"]
    policy, breaker = fault["rollout_policy"], fault["breaker"]
    lines = [
        f"## Fault injection: `{fault['spec']}` on {model}",
        "",
        "Expected outcome observed."
        if fault["passed"]
        else "**Expected outcome NOT observed** (see ❌ below).",
        "",
        "| check | required | happened | detail |",
        "|---|---|---|---|",
    ]
    for c in fault["checks"]:
        mark = "✅" if c["passed"] else ("❌" if c["required"] else "–")
        lines.append(
            f"| {c['name']} | {'yes' if c['required'] else 'no'} | {mark} | {c['detail']} |"
        )
    steps = " → ".join(f"{x:g}%" for x in policy["steps"])
    lines += [
        "",
        f"Rollout policy: candidate weight steps {steps}, {policy['min_samples']} scored "
        f"predictions per step, a check every {policy['check_interval_s']:g} s, pause after "
        f"{policy['max_duration_s']:g} s. Breaker: opens after "
        f"{breaker['consecutive_failures']} failures in a row or {breaker['failure_rate']:.0%} "
        f"of the last {breaker['window']} calls (from {breaker['min_calls']} calls), probes "
        f"after {breaker['cooldown_s']:g} s. Live analysis every "
        f"{fault['analysis_interval_s']:g} s.",
        "",
    ]
    return lines


def _weights(weights: Mapping[str, float]) -> str:
    return ", ".join(f"{m} {w:g}" for m, w in weights.items())


def _events(timeline: Mapping[str, Any]) -> list[tuple[float, str]]:
    rows: list[tuple[float, str]] = []
    for w in timeline["weights"]:
        why = f" ({w['actor']}: {w['reason']})" if w["reason"] else f" ({w['actor']})"
        rows.append((w["t_s"], f"weights {_weights(w['weights'])}{why}"))
    for f in timeline["faults"]:
        what = "down" if f["down"] else f"error rate {f['error_rate']:g}, +{f['latency_ms']:g} ms"
        rows.append((f["t_s"], f"fault ({f['source']}) on {f['model']}: {what}"))
    for b in timeline["breaker"]:
        rows.append((b["t_s"], f"breaker {b['model']}: {b['from']} → {b['to']} ({b['reason']})"))
    for r in timeline["rollout"]:
        rows.append(
            (
                r["t_s"],
                f"rollout {r['action']}: {r['reason']} (phase {r['phase']}, candidate "
                f"{r['candidate_weight']:g}%)",
            )
        )
    return sorted(rows, key=lambda row: row[0])


def _timeline(timeline: Mapping[str, Any]) -> list[str]:
    s = timeline["summary"]
    events = _events(timeline)
    lines = [
        "## Timeline",
        "",
        "Seconds since the load started (negative: at gateway start), from the gateway's admin "
        "events; the PNG adds the answers over time.",
        "",
        "| t (s) | event |",
        "|--:|---|",
    ]
    lines += [f"| {t:.2f} | {text} |" for t, text in events[:MAX_TIMELINE_ROWS]]
    if len(events) > MAX_TIMELINE_ROWS:
        lines.append(f"| | … {len(events) - MAX_TIMELINE_ROWS} more in the JSON report |")
    lines += [
        "",
        f"Fallback answers: {s['fallbacks']}; client failures: {s['failures']}; breaker of "
        f"{timeline['candidate']} opened {s['breaker_opened']} time(s); candidate weight at the "
        f"end: {s['candidate_weight_final']:g}.",
        "",
    ]
    return lines
