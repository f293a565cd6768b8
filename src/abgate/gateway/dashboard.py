"""The built-in live dashboard: one self-contained HTML page served at ``GET /dashboard``.

The page polls ``/v2/experiments/{name}/summary`` every :data:`POLL_MS` milliseconds and draws
the verdict, the traffic split (actual against target), accuracy with its intervals, latency,
errors, fallbacks, breaker state and drift. The experiment comes from ``?experiment=``, else the
first one ``/v2/experiments`` lists.

Everything is inline — CSS, script, charts drawn as SVG — and the page names no URL at all, so it
works on an air-gapped machine. A Content-Security-Policy that admits only this exact script and
stylesheet (by hash) and same-origin requests makes the browser enforce that: anything else
would show up as a console error, which the browser test checks for.
"""

from __future__ import annotations

import base64
import hashlib

from abgate.gateway.http import Response

POLL_MS = 800
"""Refresh period of the page; the summary endpoint itself caches one analysis interval."""

_CSS = r"""
:root {
  --bg: #f3f5fa; --card: #fff; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0;
  --good: #059669; --good-bg: #ecfdf5; --bad: #dc2626; --bad-bg: #fef2f2;
  --warn: #d97706; --warn-bg: #fffbeb; --info: #4338ca; --info-bg: #eef2ff;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
        "Liberation Sans", sans-serif;
  font-variant-numeric: tabular-nums;
}
header {
  display: flex; align-items: center; gap: 24px; padding: 14px 32px;
  background: #0f172a; color: #e2e8f0;
}
.brand { font-size: 20px; font-weight: 700; letter-spacing: .2px; color: #fff; }
.brand span { font-weight: 400; color: #94a3b8; margin-left: 8px; font-size: 15px; }
.pick { margin-left: auto; display: flex; align-items: center; gap: 8px; color: #94a3b8; }
select {
  font: inherit; color: #fff; background: #1e293b; border: 1px solid #334155;
  border-radius: 8px; padding: 6px 10px;
}
.live { display: flex; align-items: center; gap: 8px; min-width: 150px; color: #cbd5e1; }
.dot { width: 10px; height: 10px; border-radius: 50%; background: #64748b; }
.dot.on { background: #22c55e; animation: pulse 1.6s ease-out infinite; }
.dot.off { background: #ef4444; }
@keyframes pulse {
  0% { box-shadow: 0 0 0 0 rgba(34, 197, 94, .6); }
  100% { box-shadow: 0 0 0 10px rgba(34, 197, 94, 0); }
}
main { max-width: 1400px; margin: 0 auto; padding: 24px 32px 8px; display: grid; gap: 20px; }
.card {
  background: var(--card); border-radius: 14px; padding: 18px 20px;
  box-shadow: 0 1px 2px rgba(15, 23, 42, .06), 0 4px 14px rgba(15, 23, 42, .05);
}
.card h2 {
  margin: 0 0 12px; font-size: 13px; font-weight: 600; color: var(--muted);
  text-transform: uppercase; letter-spacing: .6px;
}
.problem {
  display: none; padding: 12px 16px; border-radius: 10px; background: var(--bad-bg);
  color: var(--bad); font-weight: 600;
}
.problem.shown { display: block; }
.verdict { display: flex; gap: 20px; align-items: center; border-left: 8px solid var(--info); }
.verdict .icon {
  flex: none; width: 64px; height: 64px; border-radius: 50%; display: grid;
  place-items: center; font-size: 30px; font-weight: 700; background: var(--info-bg);
  color: var(--info);
}
.verdict .label { font-size: 12px; font-weight: 700; letter-spacing: 1px; color: var(--info); }
.verdict h1 { margin: 2px 0 4px; font-size: 26px; line-height: 1.2; }
.verdict p { margin: 0; color: #334155; font-size: 15px; max-width: 900px; }
.verdict.promote { border-color: var(--good); }
.verdict.promote .icon { background: var(--good-bg); color: var(--good); }
.verdict.promote .label { color: var(--good); }
.verdict.rollback { border-color: var(--bad); }
.verdict.rollback .icon { background: var(--bad-bg); color: var(--bad); }
.verdict.rollback .label { color: var(--bad); }
.verdict.invalid { border-color: var(--warn); }
.verdict.invalid .icon { background: var(--warn-bg); color: var(--warn); }
.verdict.invalid .label { color: var(--warn); }
.chips { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 10px; }
.chip {
  padding: 3px 10px; border-radius: 999px; background: #f1f5f9; color: #334155;
  font-size: 13px;
}
.kpis { display: grid; grid-template-columns: repeat(4, 1fr); gap: 20px; }
.kpi .value { font-size: 30px; font-weight: 700; margin-top: 2px; }
.kpi .sub { color: var(--muted); margin-top: 2px; }
.good { color: var(--good); } .bad { color: var(--bad); } .warn { color: var(--warn); }
.arms { display: grid; grid-template-columns: repeat(auto-fit, minmax(380px, 1fr)); gap: 20px; }
.arm { border-top: 5px solid var(--arm, #4f46e5); }
.arm-head { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; }
.arm-head .name { font-size: 18px; font-weight: 700; }
.arm-head .ver { color: var(--muted); }
.badge {
  font-size: 12px; font-weight: 600; padding: 2px 9px; border-radius: 999px;
  background: #f1f5f9; color: #334155;
}
.badge.role { background: #eef2ff; color: #4338ca; }
.badge.closed { background: var(--good-bg); color: var(--good); }
.badge.open { background: var(--bad-bg); color: var(--bad); }
.badge.half_open { background: var(--warn-bg); color: var(--warn); }
.arm-main { display: flex; gap: 28px; align-items: flex-end; margin: 14px 0 10px; }
.big { font-size: 40px; font-weight: 700; line-height: 1; }
.big-label {
  color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .6px;
}
.ci { color: var(--muted); margin-top: 4px; }
.share { flex: 1; }
.share-text { display: flex; justify-content: space-between; color: #334155; }
.bar {
  position: relative; height: 12px; border-radius: 6px; background: #eef2f7;
  margin-top: 6px; overflow: visible;
}
.bar .fill { position: absolute; left: 0; top: 0; bottom: 0; border-radius: 6px; }
.bar .target {
  position: absolute; top: -4px; bottom: -4px; width: 3px; margin-left: -1px;
  background: #0f172a; border-radius: 2px;
}
.stats {
  display: grid; grid-template-columns: repeat(3, 1fr); gap: 10px 16px;
  border-top: 1px solid var(--line); padding-top: 12px;
}
.stat .k { color: var(--muted); font-size: 12px; }
.stat .v { font-size: 17px; font-weight: 600; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 20px; }
svg { display: block; width: 100%; height: auto; }
svg text { font: 12px system-ui, "Liberation Sans", sans-serif; fill: #475569; }
svg .axis { stroke: #cbd5e1; stroke-width: 1; }
svg .grid { stroke: #eef2f7; stroke-width: 1; }
svg .zero { stroke: #0f172a; stroke-width: 1.5; stroke-dasharray: 4 3; }
svg .title { font-weight: 600; fill: #0f172a; }
.legend { display: flex; gap: 16px; flex-wrap: wrap; color: #334155; margin-top: 6px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 6px;
  vertical-align: -1px; background: var(--arm); }
.reasons { list-style: none; margin: 0; padding: 0; display: grid; gap: 8px; }
.reasons li { display: flex; gap: 10px; align-items: baseline; }
.reasons .mark { flex: none; width: 20px; text-align: center; font-weight: 700; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-size: 12px; font-weight: 600; text-transform: uppercase;
  letter-spacing: .5px; }
td.psi { font-weight: 600; border-radius: 6px; }
td.psi.ok { color: var(--good); } td.psi.mid { color: var(--warn); }
td.psi.high { color: var(--bad); background: var(--bad-bg); }
.note { color: var(--muted); font-size: 12px; margin-top: 8px; }
.note.rule { margin-top: 16px; padding-top: 12px; border-top: 1px solid var(--line);
  font-size: 13px; }
footer { max-width: 1400px; margin: 0 auto; padding: 8px 32px 28px; color: var(--muted);
  font-size: 12px; }
@media (max-width: 900px) { .kpis, .two { grid-template-columns: 1fr 1fr; } }
"""

_JS = r"""
"use strict";
const POLL_MS = __POLL_MS__;
const HISTORY_S = 120;
const COLORS = ["#4f46e5", "#f59e0b", "#10b981", "#ec4899", "#0ea5e9", "#8b5cf6"];
const FEATURES = {prediction: "Prediction", ret_1d: "1-day return", vol_20d: "20-day volatility"};
const GUARDRAILS = {error_rate: "error rate", latency_p95: "p95 latency"};
const BREAKER = {closed: "Healthy", open: "Circuit open", half_open: "Circuit probing"};
const state = {experiment: null, history: [], colors: {}};
const $ = (id) => document.getElementById(id);

function esc(s) {
  return String(s).replace(/[&<>"']/g,
    (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})[c]);
}
const finite = (x) => typeof x === "number" && isFinite(x);
const pct = (x, d = 1) => finite(x) ? (100 * x).toFixed(d) + "%" : "—";
const pp = (x, d = 1) =>
  finite(x) ? (x < 0 ? "−" : "+") + Math.abs(100 * x).toFixed(d) + " pp" : "—";
const num = (n) => finite(n) ? Math.round(n).toLocaleString("en-US") : "—";
const ms = (x) => finite(x) ? (x < 10 ? x.toFixed(2) : x.toFixed(1)) + " ms" : "—";
const pval = (p) => !finite(p) ? "—" : p < 0.0001 ? "< 0.0001" : p.toFixed(p < 0.01 ? 4 : 3);
const rate = (r) => finite(r) ? r.toFixed(r < 10 ? 1 : 0) + " req/s" : "—";

function h(tag, cls, text) {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
}

async function getJSON(path) {
  const r = await fetch(path, {cache: "no-store", headers: {accept: "application/json"}});
  if (!r.ok) {
    let message = r.status + " " + r.statusText;
    try { message = (await r.json()).error || message; } catch (_) { /* not JSON */ }
    const error = new Error(message);
    error.status = r.status;
    throw error;
  }
  return r.json();
}

function problem(text) {
  const p = $("problem");
  p.textContent = text || "";
  p.className = text ? "problem shown" : "problem";
}

function setLive(error) {
  $("dot").className = error ? "dot off" : "dot on";
  if (!error) { problem(""); return; }
  $("updated").textContent = error.status ? "error" : "reconnecting…";
  problem(error.status ? "The gateway answered: " + error.message :
    "No answer from the gateway, retrying (" + error.message + ")");
}

async function start() {
  const wanted = new URLSearchParams(location.search).get("experiment");
  let names = [];
  try {
    names = (await getJSON("/v2/experiments")).experiments.map((e) => e.name);
  } catch (e) {
    setLive(e);
    setTimeout(start, 2000);
    return;
  }
  const select = $("experiment");
  if (wanted && !names.includes(wanted)) names.push(wanted);
  select.replaceChildren(...names.map((n) => {
    const option = h("option", "", n);
    option.value = n;
    return option;
  }));
  state.experiment = wanted || names[0] || null;
  if (!state.experiment) { problem("This gateway runs no experiment."); return; }
  select.value = state.experiment;
  select.addEventListener("change", () => {
    state.experiment = select.value;
    state.history = [];
    history.replaceState(null, "", "?experiment=" + encodeURIComponent(select.value));
  });
  poll();
}

async function poll() {
  const began = performance.now();
  const name = state.experiment;
  try {
    const summary = await getJSON("/v2/experiments/" + encodeURIComponent(name) + "/summary");
    if (name === state.experiment) { render(summary); setLive(null); }
  } catch (e) {
    setLive(e);
  }
  setTimeout(poll, Math.max(0, POLL_MS - (performance.now() - began)));
}

// ---- derived numbers ---------------------------------------------------------------------
function remember(summary, arms) {
  const last = state.history[state.history.length - 1];
  if (last && last.t === summary.updated) return;
  const served = {};
  for (const v of arms) served[v.model] = v.served;
  state.history.push({t: summary.updated, served});
  while (state.history.length > 2 && state.history[0].t < summary.updated - HISTORY_S) {
    state.history.shift();
  }
}

function rateOf(model, seconds) {
  const hs = state.history;
  if (hs.length < 2) return null;
  const last = hs[hs.length - 1];
  let first = hs.find((p) => last.t - p.t <= seconds) || hs[0];
  if (first === last) first = hs[hs.length - 2];
  const dt = last.t - first.t;
  return dt > 0 ? Math.max(0, ((last.served[model] || 0) - (first.served[model] || 0)) / dt) : null;
}

function rateSeries(model) {
  const hs = state.history, out = [];
  for (let i = 1; i < hs.length; i++) {
    const a = hs[Math.max(0, i - 3)], b = hs[i];  // smoothed over three looks
    const dt = b.t - a.t;
    const n = (b.served[model] || 0) - (a.served[model] || 0);
    if (dt > 0) out.push([b.t, Math.max(0, n / dt)]);
  }
  return out;
}

// ---- rendering -----------------------------------------------------------------------------
function render(s) {
  const status = s.status, analysis = s.analysis, verdict = s.verdict;
  const baseline = (analysis && analysis.baseline) || status.default || status.fallback;
  const arms = status.variants.slice().sort((a, b) =>
    a.model === baseline ? -1 : b.model === baseline ? 1 : a.model.localeCompare(b.model));
  for (const v of arms) {
    if (!(v.model in state.colors)) {
      state.colors[v.model] = COLORS[Object.keys(state.colors).length % COLORS.length];
    }
  }
  const byName = {};
  for (const a of (analysis && analysis.arms) || []) byName[a.name] = a;
  const comparison = ((analysis && analysis.comparisons) || [])[0] || null;
  remember(s, arms);
  renderVerdict(verdict, analysis, comparison, baseline, arms, status.rollout);
  renderKpis(arms, analysis, comparison, verdict);
  renderArms(arms, byName, baseline);
  $("forest").innerHTML = forest(arms, byName, comparison, baseline);
  $("traffic").innerHTML = trafficChart(arms);
  $("traffic-legend").replaceChildren(...arms.map((v) => {
    const item = h("span", "", v.model);
    const swatch = h("i");
    swatch.style.setProperty("--arm", state.colors[v.model]);
    item.prepend(swatch);
    return item;
  }));
  renderReasons(verdict, analysis);
  renderDrift(s.drift || {}, arms);
  $("updated").textContent = "Live · " + new Date(s.updated * 1000).toLocaleTimeString("en-GB");
}

function renderVerdict(v, analysis, comparison, baseline, arms, rollout) {
  const candidates = arms.filter((a) => a.model !== baseline).map((a) => a.model);
  const who = v.candidate || candidates.join(", ") || "the candidate";
  const reasons = v.reasons || [];
  let icon = "▶", title = "Keep the experiment running", text;
  if (v.verdict === "promote") {
    icon = "✓"; title = "Promote " + who;
    text = who + " is significantly more accurate than " + baseline +
      ", and its error rate and latency are no worse.";
  } else if (v.verdict === "rollback") {
    icon = "✗"; title = "Roll back " + who;
    text = who + " is significantly worse than " + baseline +
      " on accuracy or a guardrail (error rate, latency). Take it out of the split.";
  } else if (v.verdict === "invalid") {
    icon = "!"; title = "Results invalid: the traffic split is broken";
    text = "Assignments do not match the configured weights (sample ratio mismatch). " +
      "No comparison can be trusted until the cause is fixed.";
  } else if (!analysis) {
    text = reasons.includes("single_arm") ? "Only one arm has traffic so far." :
      "Waiting for traffic on every arm.";
  } else {
    text = "No significant difference in accuracy between " + who + " and " + baseline + " yet.";
    if (finite(v.samples_needed) && v.samples_needed > 1e6) {
      text += " The difference so far is so small that resolving it would take over a million" +
        " more scored predictions: the models look alike.";
    } else if (finite(v.samples_needed)) {
      text += " Roughly " + num(v.samples_needed) + " more scored predictions to a decision.";
    }
  }
  $("verdict").className = "card verdict " + v.verdict;
  $("verdict-icon").textContent = icon;
  $("verdict-label").textContent = "VERDICT · " + v.verdict.toUpperCase();
  $("verdict-title").textContent = title;
  $("verdict-text").textContent = text;
  const chips = [];
  for (const [cand, p] of Object.entries(v.always_valid_p || {})) {
    chips.push("Always-valid p (" + cand + ") = " + pval(p));
  }
  if (comparison && comparison.sequential) {
    const q = comparison.sequential;
    chips.push("Accuracy lift " + pp(q.estimate) + "  [" + pp(q.lower) + ", " + pp(q.upper) + "]");
  }
  if (analysis && analysis.srm) {
    chips.push((analysis.srm.healthy ? "Split healthy" : "Split MISMATCH") +
      " (SRM p = " + pval(analysis.srm.p_value) + ")");
  }
  if (rollout) {
    const last = (rollout.history || []).slice(-1)[0];
    chips.push("Rollout " + rollout.phase.replace("_", " ") +
      (rollout.phase === "running" ? " at " + rollout.step_percent + "%" : "") +
      (last && last.action !== "hold" ? " · last: " + last.action + " (" + last.reason + ")" : ""));
  }
  $("verdict-chips").replaceChildren(...chips.map((c) => h("span", "chip", c)));
}

function renderKpis(arms, analysis, comparison, verdict) {
  const served = arms.reduce((n, a) => n + a.served, 0);
  const scored = arms.reduce((n, a) => n + a.scored, 0);
  const correct = arms.reduce((n, a) => n + a.correct, 0);
  const total = arms.reduce((r, a) => r + (rateOf(a.model, 5) || 0), 0);
  $("kpi-requests").textContent = num(served);
  $("kpi-rate").textContent = state.history.length > 1 ? rate(total) + " now" : "measuring…";
  $("kpi-scored").textContent = num(scored);
  $("kpi-accuracy").textContent = scored ? pct(correct / scored) + " correct across all arms" :
    "waiting for feedback";
  const q = comparison && comparison.sequential;
  const lift = $("kpi-lift");
  lift.textContent = q ? pp(q.estimate) : "—";
  lift.className = "value" + (q && q.lower > 0 ? " good" : q && q.upper < 0 ? " bad" : "");
  $("kpi-lift-ci").textContent = q && finite(q.lower) ?
    "95% always-valid CI " + pp(q.lower) + " to " + pp(q.upper) : "interval after burn-in";
  const srm = analysis && analysis.srm;
  const health = $("kpi-srm");
  health.textContent = !srm ? "—" : srm.healthy ? "Healthy" : "Mismatch";
  health.className = "value" + (!srm ? "" : srm.healthy ? " good" : " bad");
  $("kpi-srm-p").textContent = srm ? "SRM p-value " + pval(srm.p_value) + " (alarm < 0.001)" :
    "needs traffic on every arm";
}

function stat(k, v) {
  const box = h("div", "stat");
  box.append(h("div", "k", k), h("div", "v", v));
  return box;
}

function renderArms(arms, byName, baseline) {
  const assigned = arms.reduce((n, a) => n + a.assigned, 0);
  $("arms").replaceChildren(...arms.map((v) => {
    const a = byName[v.model];
    const card = h("section", "card arm");
    card.dataset.model = v.model;
    card.style.setProperty("--arm", state.colors[v.model]);
    const head = h("div", "arm-head");
    head.append(h("span", "name", v.model), h("span", "ver", "v" + v.version),
      h("span", "badge role", v.model === baseline ? "Baseline" : "Candidate"),
      h("span", "badge " + v.circuit, BREAKER[v.circuit] || v.circuit));
    const main = h("div", "arm-main");
    const acc = h("div");
    const estimate = a && a.accuracy.reason === "ok" ? a.accuracy.estimate : v.accuracy;
    acc.append(h("div", "big-label", "Accuracy"), h("div", "big", pct(estimate)),
      h("div", "ci", a && a.accuracy.reason === "ok" ?
        "95% CI " + pct(a.accuracy.lower) + " – " + pct(a.accuracy.upper) :
        "waiting for ground truth"));
    const share = h("div", "share");
    const actual = assigned ? v.assigned / assigned : null;
    const text = h("div", "share-text");
    text.append(h("span", "", "Traffic share " + pct(actual)),
      h("span", "", "target " + pct(v.target_share, 0)));
    const bar = h("div", "bar"), fill = h("div", "fill"), target = h("div", "target");
    fill.style.width = (100 * (actual || 0)) + "%";
    fill.style.background = state.colors[v.model];
    target.style.left = (100 * v.target_share) + "%";
    target.title = "target " + pct(v.target_share, 0);
    bar.append(fill, target);
    share.append(text, bar);
    main.append(acc, share);
    const stats = h("div", "stats");
    stats.append(stat("Requests served", num(v.served)),
      stat("Throughput", rate(rateOf(v.model, 5))),
      stat("Scored", num(v.scored)),
      stat("Latency p50", a ? ms(a.latency_p50) : "—"),
      stat("Latency p95", a ? ms(a.latency_p95) : "—"),
      stat("Errors", num(v.errors)),
      stat("Answered as fallback", num(v.fallbacks_served)),
      stat("Error rate", a && a.error_rate.reason === "ok" ? pct(a.error_rate.estimate, 2) : "—"),
      stat("Weight", String(v.weight)));
    card.append(head, main, stats);
    return card;
  }));
}

function forest(arms, byName, comparison, baseline) {
  const rows = arms.map((v) => ({v, a: byName[v.model]}))
    .filter((r) => r.a && r.a.accuracy.reason === "ok");
  if (!rows.length) {
    return '<svg viewBox="0 0 600 60"><text x="0" y="30">' +
      "Accuracy intervals appear once ground truth arrives.</text></svg>";
  }
  let lo = Math.min(...rows.map((r) => r.a.accuracy.lower));
  let hi = Math.max(...rows.map((r) => r.a.accuracy.upper));
  lo = Math.max(0, Math.floor((Math.min(lo, 0.5) - 0.02) * 20) / 20);
  hi = Math.min(1, Math.ceil((Math.max(hi, 0.5) + 0.02) * 20) / 20);
  const W = 600, L = 170, R = 90, rowH = 34, top = 26;
  const x = (p) => L + (p - lo) / (hi - lo) * (W - L - R);
  const ticks = [];
  for (let t = lo; t <= hi + 1e-9; t += (hi - lo > 0.3 ? 0.1 : 0.05)) ticks.push(t);
  const q = comparison && comparison.sequential;
  const diffH = q ? 104 : 0;
  const H = top + rows.length * rowH + 24 + diffH;
  let svg = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="accuracy intervals">`;
  svg += `<text class="title" x="0" y="14">Accuracy by model, 95% confidence intervals</text>`;
  const bottom = top + rows.length * rowH;
  for (const t of ticks) {
    svg += `<line class="grid" x1="${x(t)}" x2="${x(t)}" y1="${top}" y2="${bottom}"/>`;
    svg += `<text x="${x(t)}" y="${bottom + 16}" text-anchor="middle">` +
      `${Math.round(t * 100)}%</text>`;
  }
  svg += `<line class="zero" x1="${x(0.5)}" x2="${x(0.5)}" y1="${top}" y2="${bottom}"/>`;
  rows.forEach((r, i) => {
    const y = top + i * rowH + rowH / 2, c = state.colors[r.v.model], acc = r.a.accuracy;
    svg += `<text x="0" y="${y + 4}">${esc(r.v.model)}</text>`;
    svg += interval(x(acc.lower), x(acc.upper), y, c);
    svg += `<circle cx="${x(acc.estimate)}" cy="${y}" r="7" fill="${c}"/>`;
    svg += `<text x="${W - R + 10}" y="${y + 4}">${pct(acc.estimate)}</text>`;
  });
  if (q) {
    const y0 = bottom + 50;
    const m = Math.max(0.05, ...[q.lower, q.upper, q.estimate].filter(finite).map(Math.abs)) * 1.1;
    const dx = (d) => L + (d + m) / (2 * m) * (W - L - R);
    svg += `<text class="title" x="0" y="${y0 - 8}">Difference ${esc(comparison.candidate)}` +
      ` − ${esc(baseline)}, always-valid 95% interval</text>`;
    svg += `<line class="axis" x1="${L}" x2="${W - R}" y1="${y0 + 24}" y2="${y0 + 24}"/>`;
    svg += `<line class="zero" x1="${dx(0)}" x2="${dx(0)}" y1="${y0 + 2}" y2="${y0 + 30}"/>`;
    for (const t of [-m, -m / 2, 0, m / 2, m]) {
      const label = t === 0 ? "0" : pp(t, 0);
      svg += `<text x="${dx(t)}" y="${y0 + 42}" text-anchor="middle">${label}</text>`;
    }
    const cls = q.lower > 0 ? "#059669" : q.upper < 0 ? "#dc2626" : "#475569";
    svg += `<text x="0" y="${y0 + 18}">lift</text>`;
    if (finite(q.lower) && finite(q.upper)) {
      svg += interval(dx(Math.max(-m, q.lower)), dx(Math.min(m, q.upper)), y0 + 14, cls);
    }
    if (finite(q.estimate)) {
      svg += `<circle cx="${dx(q.estimate)}" cy="${y0 + 14}" r="7" fill="${cls}"/>`;
    }
    svg += `<text x="${W - R + 10}" y="${y0 + 18}">${pp(q.estimate)}</text>`;
  }
  return svg + "</svg>";
}

function interval(x1, x2, y, color) {
  return `<line x1="${x1}" x2="${x2}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="6"` +
    ' stroke-linecap="round" opacity=".35"/>';
}

function niceStep(raw) {  // 1, 2, 2.5 or 5 times a power of ten, at least raw
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  return p * ([1, 2, 2.5, 5, 10].find((m) => m * p >= raw) || 10);
}

function trafficChart(arms) {
  const W = 600, H = 230, L = 46, R = 12, T = 12, B = 28;
  const series = arms.map((v) => ({model: v.model, pts: rateSeries(v.model)}));
  const all = series.flatMap((s) => s.pts);
  if (all.length < 2) {
    return `<svg viewBox="0 0 ${W} ${H}"><text x="${L}" y="${H / 2}">` +
      "Measuring throughput…</text></svg>";
  }
  // the window grows with the page's own history, up to HISTORY_S
  const tMax = Math.max(...all.map((p) => p[0]));
  const span = Math.min(HISTORY_S, Math.max(10, tMax - state.history[0].t));
  const tMin = tMax - span;
  const step = niceStep(Math.max(1, ...all.map((p) => p[1])) * 1.1 / 4);
  const yMax = 4 * step;
  const x = (t) => L + (t - tMin) / span * (W - L - R);
  const y = (r) => T + (1 - r / yMax) * (H - T - B);
  let svg = `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="requests per second">`;
  for (let i = 0; i <= 4; i++) {
    const r = step * i;
    svg += `<line class="grid" x1="${L}" x2="${W - R}" y1="${y(r)}" y2="${y(r)}"/>`;
    svg += `<text x="${L - 6}" y="${y(r) + 4}" text-anchor="end">` +
      `${+r.toFixed(1)}</text>`;
  }
  for (const ago of [1, 0.75, 0.5, 0.25, 0].map((f) => Math.round(f * span))) {
    const label = ago ? "−" + ago + " s" : "now";
    svg += `<text x="${x(tMax - ago)}" y="${H - 8}" text-anchor="middle">${label}</text>`;
  }
  for (const s of series) {
    const pts = s.pts.filter((p) => p[0] >= tMin);
    if (pts.length < 2) continue;
    const d = pts.map((p, i) => `${i ? "L" : "M"}${x(p[0]).toFixed(1)} ${y(p[1]).toFixed(1)}`);
    svg += `<path d="${d.join(" ")}" fill="none" stroke="${state.colors[s.model]}"` +
      ' stroke-width="2.5" stroke-linejoin="round"/>';
  }
  return svg + "</svg>";
}

function explain(code, config) {
  const [kind, cand, guard] = code.split(":");
  const g = GUARDRAILS[guard] || guard;
  const effect = config && config.min_detectable_effect;
  const mde = finite(effect) ? pp(effect, 0) : "the planned";
  const text = {
    srm_mismatch: ["✗", "bad", "The traffic split does not match the configured weights."],
    guardrail_harmed: ["✗", "bad", `${cand}: ${g} is significantly worse than the baseline's.`],
    primary_worse: ["✗", "bad", `${cand}: accuracy is significantly lower than the baseline's.`],
    primary_better: ["✓", "good", `${cand}: accuracy is significantly higher than the baseline's.`],
    guardrails_non_inferior:
      ["✓", "good", `${cand}: error rate and latency are no worse than the baseline's.`],
    guardrail_inconclusive:
      ["…", "", `${cand}: ${g} not yet shown to be no worse than the baseline's.`],
    primary_inconclusive: ["…", "", `${cand}: no significant accuracy difference yet.`],
    burn_in: ["…", "", `${cand}: collecting the minimum sample before testing.`],
    no_data:
      ["…", "", cand ? `${cand}: waiting for ground truth (feedback).` : "Waiting for traffic."],
    zero_variance: ["…", "", `${cand}: every outcome so far is identical.`],
    mde_reached:
      ["=", "warn", `${cand}: enough data to detect a ${mde} difference, and none is there.`],
    single_arm: ["…", "", "Only one arm has traffic so far."],
  }[kind];
  return text || ["•", "", code];
}

function renderReasons(verdict, analysis) {
  const config = analysis && analysis.config;
  $("reasons").replaceChildren(...(verdict.reasons || []).map((code) => {
    const [mark, cls, text] = explain(code, config);
    const li = h("li");
    li.append(h("span", "mark " + cls, mark), h("span", "", text));
    return li;
  }));
}

function renderDrift(drift, arms) {
  const features = Object.keys(FEATURES);
  const head = h("tr");
  head.append(h("th", "", "Model"), ...features.map((f) => h("th", "", FEATURES[f])));
  const rows = arms.map((v) => {
    const tr = h("tr");
    tr.append(h("td", "", v.model));
    for (const f of features) {
      const value = (drift[v.model] || {})[f];
      const cls = !finite(value) ? "" : value > 0.25 ? "high" : value > 0.1 ? "mid" : "ok";
      tr.append(h("td", "psi " + cls, finite(value) ? value.toFixed(2) : "—"));
    }
    return tr;
  });
  $("drift").replaceChildren(head, ...rows);
}

start();
"""

_HTML = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>abgate · live A/B experiment</title>
<link rel="icon" href="data:,">
<style>__CSS__</style>
</head>
<body>
<header>
  <div class="brand">abgate<span>live A/B experiment</span></div>
  <label class="pick">Experiment <select id="experiment" aria-label="experiment"></select></label>
  <div class="live"><span id="dot" class="dot"></span><span id="updated">connecting…</span>
  </div>
</header>
<main>
  <div id="problem" class="problem" role="alert"></div>
  <section id="verdict" class="card verdict continue">
    <div id="verdict-icon" class="icon">…</div>
    <div>
      <div id="verdict-label" class="label">VERDICT</div>
      <h1 id="verdict-title">Loading the experiment…</h1>
      <p id="verdict-text"></p>
      <div id="verdict-chips" class="chips"></div>
    </div>
  </section>
  <section class="kpis">
    <div class="card kpi"><h2>Requests served</h2><div id="kpi-requests" class="value">—</div>
      <div id="kpi-rate" class="sub"></div></div>
    <div class="card kpi"><h2>Predictions scored</h2><div id="kpi-scored" class="value">—</div>
      <div id="kpi-accuracy" class="sub"></div></div>
    <div class="card kpi"><h2>Accuracy lift of the candidate</h2>
      <div id="kpi-lift" class="value">—</div><div id="kpi-lift-ci" class="sub"></div></div>
    <div class="card kpi"><h2>Traffic split</h2><div id="kpi-srm" class="value">—</div>
      <div id="kpi-srm-p" class="sub"></div></div>
  </section>
  <div id="arms" class="arms"></div>
  <section class="two">
    <div class="card"><h2>Accuracy against real outcomes</h2><div id="forest"></div>
      <div class="note">Dots: share of predictions that were right. Bars: 95% intervals.
        The lift interval is always-valid: it stays correct however often this page refreshes.
      </div></div>
    <div class="card"><h2>Requests per second, live</h2><div id="traffic"></div>
      <div id="traffic-legend" class="legend"></div></div>
  </section>
  <section class="two">
    <div class="card"><h2>Why this verdict</h2><ul id="reasons" class="reasons"></ul>
      <div class="note rule">How abgate decides: promote the candidate only when its accuracy is
        significantly better (always-valid p ≤ 0.05) and its error rate and p95 latency are
        significantly no worse; roll it back as soon as anything is significantly worse; a
        traffic split that does not match the weights (SRM p &lt; 0.001) invalidates the
        experiment. The tests stay valid however often anyone looks.</div></div>
    <div class="card"><h2>Drift against the training data (PSI)</h2><table id="drift"></table>
      <div class="note">Population stability index of recent traffic against each model's
        training reference: below 0.10 stable, 0.10–0.25 moderate, above 0.25 significant.</div>
    </div>
  </section>
</main>
<footer>Live from this gateway's <code>/v2/experiments/{name}/summary</code>, refreshed every
__POLL_S__ s. Self-contained page: no external scripts, fonts or data.</footer>
<script>__JS__</script>
</body>
</html>
"""


def _csp_hash(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def render_page(poll_ms: int = POLL_MS) -> tuple[str, str]:
    """The page and the Content-Security-Policy that admits exactly its script and style."""
    js = _JS.replace("__POLL_MS__", str(poll_ms))
    page = (
        _HTML.replace("__CSS__", _CSS)
        .replace("__JS__", js)
        .replace("__POLL_S__", f"{poll_ms / 1000:g}")
    )
    csp = (
        "default-src 'none'; "
        f"script-src {_csp_hash(js)}; "
        f"style-src {_csp_hash(_CSS)}; "
        "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    return page, csp


_PAGE, _CSP = render_page()
_BODY = _PAGE.encode()
_HEADERS = [
    (b"content-security-policy", _CSP.encode()),
    (b"cache-control", b"no-cache"),
    (b"x-content-type-options", b"nosniff"),
]


def dashboard_response() -> Response:
    """``GET /dashboard``: the page, with its Content-Security-Policy."""
    return Response(200, _BODY, b"text/html; charset=utf-8", list(_HEADERS))
